"""Test data written straight into the tables, and Twilio-signed requests.

Config files have their own tests; these helpers keep flow tests independent of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from triage.store.tables import assignments, secretaries, tenant_phone_numbers, tenants

ACME_NUMBER = "+12125550143"
PARS_NUMBER = "+982188776655"


def add_tenant(engine: Engine, tenant_id: str, number: str, language: str = "en") -> None:
    with engine.begin() as connection:
        connection.execute(
            tenants.insert().values(
                id=tenant_id,
                name=tenant_id.replace("-", " ").title(),
                language=language,
                timezone="America/New_York" if language == "en" else "Asia/Tehran",
                settings={},
            )
        )
        connection.execute(tenant_phone_numbers.insert().values(number=number, tenant_id=tenant_id))


def add_secretary(
    engine: Engine,
    secretary_id: str,
    *,
    tenants_primary: Iterable[str] = (),
    tenants_backup: Iterable[str] = (),
    role: str = "secretary",
    capacity: int = 3,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            secretaries.insert().values(
                id=secretary_id,
                name=secretary_id.title(),
                role=role,
                languages=["fa", "en"],
                skills=["scheduling"],
                capacity=capacity,
                phone="+989121234567",
                settings={},
            )
        )
        for kind, tenant_ids in (("primary", tenants_primary), ("backup", tenants_backup)):
            for tenant_id in tenant_ids:
                connection.execute(
                    assignments.insert().values(
                        tenant_id=tenant_id, secretary_id=secretary_id, kind=kind
                    )
                )


def sms_params(to: str, sender: str, body: str, message_sid: str | None = None) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS (the fields Monshi reads and a few more)."""
    sid = message_sid or "SM" + secrets.token_hex(16)
    return {
        "ToCountry": "US",
        "ToState": "NY",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "NEW YORK",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "IR",
        "To": to,
        "ToZip": "10001",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, params))
