from django.urls import path

from apps.secrets.api import codec, views

urlpatterns = [
    path("secrets/", views.SecretCollectionView.as_view(), name="secrets-list"),
    path("secrets/<str:name>", views.SecretDetailView.as_view(), name="secrets-detail"),
    path("codec/encode", codec.encode, name="codec-encode"),
    path("codec/decode", codec.decode, name="codec-decode"),
]
