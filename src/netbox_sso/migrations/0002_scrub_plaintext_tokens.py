"""Remove plaintext tokens stock social-core left in UserSocialAuth.extra_data (upgraded sites).

netbox-sso never stores tokens in clear (`netbox_sso.backends.tokens`); rows written before the plugin was
installed still hold access, refresh and ID tokens. They are scrubbed once here (their identifiers kept),
again by housekeeping, and from a user's row at each of their logins.
"""

from django.db import migrations


def scrub_plaintext_tokens(apps, schema_editor):
    from netbox_sso.backends.config import hardening
    from netbox_sso.backends.tokens import scrub_all

    scrub_all(apps.get_model("social_django", "UserSocialAuth"), store=hardening().store_tokens)


class Migration(migrations.Migration):
    dependencies = [
        ("netbox_sso", "0001_initial"),
        ("social_django", "0017_usersocialauth_user_social_auth_uid_required"),
    ]

    operations = [
        migrations.RunPython(scrub_plaintext_tokens, migrations.RunPython.noop),
    ]
