"""Re-seal every stored provider credential under the current LEADFLOW_SECRET_KEY (after a key rotation).

    LEADFLOW_SECRET_KEY=<new> LEADFLOW_SECRET_KEY_FALLBACKS='["<old>"]' .venv/bin/python scripts/reseal_secrets.py

Values sealed under a fallback key (or stored before sealing existed) are re-sealed under the first key, in one
transaction; afterwards the old key can leave the fallbacks. A value no configured key opens stops the run with
nothing changed.
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from core.config import get_settings
from core.db import create_engine, create_session_factory
from core.secret_box import SecretBox, SecretUnreadable
from models import AiAgentSettings, TelephonyAccount, WhatsAppAccount

COLUMNS = ("access_token", "app_secret", "verify_token")


async def reseal() -> int:
    settings = get_settings()
    box = SecretBox.for_settings(settings)
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            accounts = (await session.execute(select(WhatsAppAccount).with_for_update())).scalars().all()
            for account in accounts:
                for column in COLUMNS:
                    setattr(account, column, box.reseal(getattr(account, column)))
            # Every version of the AI agent settings keeps its key: an older version may be read again.
            versions = (
                (
                    await session.execute(
                        select(AiAgentSettings).where(AiAgentSettings.api_key.is_not(None)).with_for_update()
                    )
                )
                .scalars()
                .all()
            )
            for version in versions:
                version.api_key = box.reseal(version.api_key)
            telephony = (await session.execute(select(TelephonyAccount).with_for_update())).scalars().all()
            for phone_account in telephony:
                phone_account.auth_token = box.reseal(phone_account.auth_token)
        print(
            f"re-sealed the credentials of {len(accounts)} WhatsApp account(s), {len(versions)} AI agent key(s) "
            f"and {len(telephony)} telephony account(s)"
        )
        return 0
    except SecretUnreadable as exc:
        print(f"nothing changed: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(reseal()))
