"""Django's database session store, with a login's key change written as one UPDATE.

At every login `django.contrib.auth.login()` gives the session a new key (`cycle_key`, against session
fixation). Django's database store does that with four statements before the response's own save: a SELECT
for an unused key, an INSERT of the new row, a SELECT and a DELETE of the old one (NetBox's pre_delete
receivers stop Django's fast delete), each save and delete also running NetBox's change receivers, which
look up the session's ObjectType. Here the key change is kept in memory and the response's save renames
the row and stores the data in one statement:

    UPDATE django_session SET session_key = <new>, session_data = ..., expire_date = ... WHERE session_key = <old>

Same guarantees: the old key stops existing in the same statement that makes the new one valid, and the
new key is 32 random characters as Django's. A collision (~2^-165) fails the UPDATE on the primary key;
the save then takes Django's way (INSERT under a key checked to be unused, DELETE of the old row). If the
old row disappeared meanwhile (a logout in another tab), the save inserts the row under the new key, as
Django's cycle_key would have.

Installed at start-up (`netbox_sso.startup`) only when SESSION_ENGINE is Django's plain database store
(NetBox's default); file, cache or custom stores are left alone.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import IntegrityError, router, transaction
from django.utils.crypto import get_random_string

#: Django's own database store, the only one this one replaces.
DJANGO_DB_ENGINE = "django.contrib.sessions.backends.db"
ENGINE = "netbox_sso.session_store"


class SessionStore(DatabaseSessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._renamed_from: str | None = None

    def cycle_key(self) -> None:
        data = self._session
        if self.session_key is None:  # no row to rename (new session, or none found by the load above)
            super().cycle_key()
            return
        if self._renamed_from is None:  # cycled twice before a save: the row still has the first key
            self._renamed_from = self.session_key
        self._session_key = get_random_string(32, VALID_KEY_CHARS)
        self._session_cache = data
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        old, self._renamed_from = self._renamed_from, None
        if old is None or must_create or self.session_key is None:
            super().save(must_create=must_create)
            return
        obj = self.create_model_instance(self._get_session())
        using = router.db_for_write(self.model, instance=obj)
        rows = self.model.objects.using(using).filter(session_key=old)
        fields = {"session_key": obj.session_key, "session_data": obj.session_data, "expire_date": obj.expire_date}
        try:
            if transaction.get_connection(using).in_atomic_block:
                with transaction.atomic(using=using):  # a savepoint: a collision must not poison the caller's
                    renamed = rows.update(**fields)
            else:  # the usual case (the response's save): one autocommit statement
                renamed = rows.update(**fields)
        except IntegrityError:  # the new key is taken: Django's way, under a key checked to be unused
            self._session_key = None
            self.create()
            super().delete(old)
            return
        if not renamed:  # the old row is gone (e.g. a logout in another tab): insert under the new key
            try:
                self.save(must_create=True)
            except CreateError:
                self.create()

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None and self._renamed_from is not None:
            # Flushed before the rename was saved: the row still has the old key.
            old, self._renamed_from = self._renamed_from, None
            super().delete(old)
            return
        super().delete(session_key)
