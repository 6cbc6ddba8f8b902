import uuid
from datetime import time

import pytest
from sqlalchemy import func, select

from billing import security, services
from billing.models import Account, Plan
from tests.factories import PASSWORD, AccountFactory


@pytest.mark.expect("same")
def test_create_account_returns_a_working_api_key(db_session):
    account, api_key = services.create_account(db_session, "Initech", "Bill@Initech.example", "tps-reports")

    assert isinstance(account.id, uuid.UUID) and account.id.version == 4
    assert api_key.startswith("bk_live_") and len(api_key) == 40
    assert services.authenticate(db_session, api_key) == account
    assert account.owner_email == "bill@initech.example"
    assert account.plan.code == "starter"


@pytest.mark.expect("same")
def test_api_key_is_stored_as_an_argon2_hash(db_session):
    account, api_key = services.create_account(db_session, "Initech", "bill@initech.example", "tps-reports")
    db_session.expire_all()

    stored = db_session.scalar(select(Account.api_key_hash).where(Account.id == account.id))
    assert isinstance(stored, bytes)
    assert stored.startswith(b"$argon2id$v=19$m=1024,t=1,p=1$")
    assert api_key.encode() not in stored


@pytest.mark.expect("same")
def test_owner_password_is_a_bcrypt_hash(db_session):
    account = AccountFactory()
    db_session.commit()
    db_session.expire_all()

    stored = db_session.get(Account, account.id).owner_password_hash
    assert stored.startswith("$2b$04$") and len(stored) == 60
    assert security.check_password(PASSWORD, stored)
    assert not security.check_password("guess", stored)


@pytest.mark.expect("same")
def test_wrong_and_rotated_keys_are_rejected(db_session):
    account, old_key = services.create_account(db_session, "Hooli", "gavin@hooli.example", "nucleus")

    new_key = services.rotate_api_key(db_session, account)

    assert services.authenticate(db_session, old_key) is None
    assert services.authenticate(db_session, new_key) == account
    assert services.authenticate(db_session, "bk_live_" + "x" * 32) is None


@pytest.mark.expect("same")
def test_unknown_plan_is_refused(db_session):
    with pytest.raises(services.BillingError, match="unknown plan 'platinum'"):
        services.create_account(db_session, "Pied Piper", "richard@pp.example", "middle-out", plan_code="platinum")


@pytest.mark.expect("same")
def test_accounts_per_plan(db_session):
    AccountFactory()
    AccountFactory.create_batch(2, plan_id=2)
    AccountFactory(plan_id=3, is_active=False)

    counts = dict(db_session.execute(
        select(Plan.code, func.count(Account.id))
        .join(Account, Account.plan_id == Plan.id)
        .where(Account.is_active.is_(True))
        .group_by(Plan.code)
    ).all())

    assert counts == {"starter": 1, "team": 2}


@pytest.mark.expect("same")
def test_accounts_to_remind_before_noon(db_session):
    AccountFactory(name="Early Bird Ltd", reminder_time=time(8, 30))
    AccountFactory(name="Night Owl plc", reminder_time=time(23, 15))
    AccountFactory.create_batch(3)  # whatever time they picked

    names = [a.name for a in services.accounts_to_remind(db_session, time(12, 0))]

    assert "Early Bird Ltd" in names
    assert "Night Owl plc" not in names


@pytest.mark.expect("diverged", category="sequences")
def test_sales_creates_a_custom_plan(db_session):
    plan = services.create_plan(db_session, "acme-custom", "Acme (negotiated)", monthly_price=150)

    assert plan.id is not None
    assert db_session.scalar(select(func.count()).select_from(Plan)) == 4
