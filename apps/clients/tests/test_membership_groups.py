"""Upgrading to per-tenant task groups: the data migration gives each member, in each of its tenants, the Django
groups it held, so an existing deployment's inbox keeps showing each operator its tenants' tasks."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.clients.models import TenantMembership
from apps.clients.selectors import groups_by_tenant

migration = importlib.import_module("apps.clients.migrations.0003_membership_groups")


@pytest.mark.django_db
def test_each_membership_receives_the_members_django_groups():
    support, billing = (Group.objects.create(name=name) for name in ("support", "billing"))
    users = get_user_model().objects
    ann = users.create_user("ann", is_staff=True)
    ann.groups.add(support, billing)
    ben = users.create_user("ben", is_staff=True)  # bound, in no group
    cy = users.create_user("cy", is_staff=True)  # in a group, bound to no tenant
    cy.groups.add(support)
    for user, tenant in ((ann, "acme"), (ann, "globex"), (ben, "acme")):
        TenantMembership.objects.create(user=user, tenant=tenant)

    migration.copy_global_groups(apps, None)
    migration.copy_global_groups(apps, None)  # run twice: no duplicate rows, no error

    both = frozenset({"support", "billing"})
    assert groups_by_tenant(ann) == {"acme": both, "globex": both}
    assert groups_by_tenant(ben) == {"acme": frozenset()}
    assert groups_by_tenant(cy) == {}
