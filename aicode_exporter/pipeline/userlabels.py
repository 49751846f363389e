"""The value of the `user` label, chosen by `users.label`."""

from __future__ import annotations

import hashlib
import hmac

from aicode_exporter.config.base import UsersConfig

HMAC_HEX_CHARS = 16  # 64 bits: no collisions in any real organisation, short in a legend


class UserLabeler:
    def __init__(self, cfg: UsersConfig) -> None:
        self.mode = cfg.label
        self._key = cfg.hmac_key

    @property
    def enabled(self) -> bool:
        """With `none`, no per-user series are exported at all."""
        return self.mode != "none"

    def label(self, *, user_id: str, email: str = "", name: str = "") -> str:
        """email/id/name as asked, falling back to the id when that field is empty.

        hmac keys the e-mail (lower-cased) when there is one, so the same person gets the
        same label from Qoder and Cursor; unlike a plain hash, it cannot be reversed by
        hashing a list of known addresses without the key."""
        user_id = user_id or "unknown"
        if self.mode == "email":
            return email or user_id
        if self.mode == "name":
            return name or user_id
        if self.mode == "hmac":
            subject = (email.strip().lower() or user_id).encode()
            return hmac.new(self._key, subject, hashlib.sha256).hexdigest()[:HMAC_HEX_CHARS]
        return user_id
