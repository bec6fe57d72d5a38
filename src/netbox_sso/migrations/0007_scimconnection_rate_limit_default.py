# SCIM connections: the default rate limit is 60,000 requests per minute (6,000 throttled a first sync).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("netbox_sso", "0006_scimconnection_token_last_used"),
    ]

    operations = [
        migrations.AlterField(
            model_name="scimconnection",
            name="rate_limit",
            field=models.PositiveIntegerField(default=60000, verbose_name="requests per minute"),
        ),
    ]
