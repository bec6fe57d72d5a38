# SCIM 2.0 provisioning: connections (hashed bearer token), pushed users and provider groups.

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("netbox_sso", "0004_backendsettings"),
    ]

    operations = [
        migrations.CreateModel(
            name="SCIMConnection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100, unique=True)),
                ("backend", models.CharField(max_length=64)),
                ("tenant_id", models.CharField(blank=True, max_length=64)),
                ("group_key", models.CharField(blank=True, default="", max_length=16)),
                ("token_action", models.CharField(default="disable", max_length=16)),
                ("dry_run", models.BooleanField(default=False)),
                ("enabled", models.BooleanField(default=True)),
                ("rate_limit", models.PositiveIntegerField(default=6000)),
                ("token_prefix", models.CharField(editable=False, max_length=16, unique=True)),
                ("token_hash", models.CharField(editable=False, max_length=64)),
                ("token_rotated", models.DateTimeField(blank=True, editable=False, null=True)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name": "SCIM connection",
                "verbose_name_plural": "SCIM connections",
                "ordering": ("name",),
            },
        ),
        migrations.CreateModel(
            name="SCIMUser",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("user_name", models.CharField(max_length=255)),
                ("user_name_folded", models.CharField(max_length=255)),
                ("external_id", models.CharField(blank=True, db_index=True, max_length=255)),
                ("display_name", models.CharField(blank=True, max_length=255)),
                ("active", models.BooleanField(default=True)),
                ("attributes", models.JSONField(default=dict)),
                ("disabled_tokens", models.JSONField(blank=True, default=list)),
                ("version", models.PositiveIntegerField(default=1)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("last_modified", models.DateTimeField(auto_now=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="users",
                        to="netbox_sso.scimconnection",
                    ),
                ),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="scim", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name": "SCIM user",
                "verbose_name_plural": "SCIM users",
                "ordering": ("user_name_folded",),
                "constraints": [
                    models.UniqueConstraint(
                        fields=("connection", "user_name_folded"), name="netbox_sso_scimuser_username"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SCIMGroup",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("display_name", models.CharField(max_length=255)),
                ("display_name_folded", models.CharField(db_index=True, max_length=255)),
                ("external_id", models.CharField(blank=True, db_index=True, max_length=255)),
                ("attributes", models.JSONField(default=dict)),
                ("version", models.PositiveIntegerField(default=1)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("last_modified", models.DateTimeField(auto_now=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="groups",
                        to="netbox_sso.scimconnection",
                    ),
                ),
            ],
            options={
                "verbose_name": "SCIM group",
                "verbose_name_plural": "SCIM groups",
                "ordering": ("display_name_folded",),
            },
        ),
        migrations.CreateModel(
            name="SCIMMembership",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("display", models.CharField(blank=True, max_length=255)),
                (
                    "scimgroup",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="netbox_sso.scimgroup"
                    ),
                ),
                (
                    "scimuser",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="netbox_sso.scimuser"
                    ),
                ),
            ],
            options={
                "verbose_name": "SCIM group membership",
                "constraints": [
                    models.UniqueConstraint(fields=("scimgroup", "scimuser"), name="netbox_sso_scimmembership_unique")
                ],
            },
        ),
        migrations.AddField(
            model_name="scimgroup",
            name="members",
            field=models.ManyToManyField(
                blank=True, related_name="scim_groups", through="netbox_sso.SCIMMembership", to="netbox_sso.scimuser"
            ),
        ),
    ]
