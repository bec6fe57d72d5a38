# SCIM connections: when the token was last accepted, and who created the connection (shown in the UI).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("netbox_sso", "0005_scim"),
    ]

    operations = [
        migrations.AddField(
            model_name="scimconnection",
            name="token_last_used",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="token last used"),
        ),
        migrations.AddField(
            model_name="scimconnection",
            name="created_by",
            field=models.CharField(blank=True, editable=False, max_length=150, verbose_name="created by"),
        ),
    ]
