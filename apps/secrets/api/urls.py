from django.urls import path

from apps.secrets.api import views
from apps.secrets.api.codec import CodecView

urlpatterns = [
    path("secrets/", views.SecretCollectionView.as_view(), name="secrets-list"),
    path("secrets/<str:name>", views.SecretDetailView.as_view(), name="secrets-detail"),
    path("codec/encode", CodecView.as_view(direction="encode"), name="codec-encode"),
    path("codec/decode", CodecView.as_view(direction="decode"), name="codec-decode"),
]
