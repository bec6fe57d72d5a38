"""Read NetBox's database directly for assertions (fast, and independent of the code under test)."""

from __future__ import annotations

from netbox_sso.devstack.netbox import NetBoxInstance


def user(instance: NetBoxInstance, username: str) -> dict | None:
    with instance.db() as conn:
        cursor = conn.execute(
            "SELECT id, username, email, first_name, last_name, is_superuser, is_active "
            "FROM users_user WHERE username = %s",
            (username,),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([c.name for c in cursor.description], row, strict=True))


def user_count(instance: NetBoxInstance) -> int:
    with instance.db() as conn:
        return conn.execute("SELECT count(*) FROM users_user").fetchone()[0]


def social_links(instance: NetBoxInstance, user_id: int) -> list[tuple[str, str]]:
    with instance.db() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                "SELECT provider, uid FROM social_auth_usersocialauth WHERE user_id = %s ORDER BY id", (user_id,)
            )
        ]


def user_groups(instance: NetBoxInstance, username: str) -> set[str]:
    with instance.db() as conn:
        return {
            row[0]
            for row in conn.execute(
                "SELECT g.name FROM users_group g JOIN users_user_groups ug ON ug.group_id = g.id "
                "JOIN users_user u ON u.id = ug.user_id WHERE u.username = %s",
                (username,),
            )
        }


def usernames(instance: NetBoxInstance) -> list[str]:
    with instance.db() as conn:
        return [row[0] for row in conn.execute("SELECT username FROM users_user ORDER BY id")]
