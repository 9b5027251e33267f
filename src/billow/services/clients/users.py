"""Users: logins (WHMCS 8), separate from the clients (billing accounts) they reach."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, func, select

from billow import security
from billow.db.models import User, UserClient
from billow.db.queries import count_of
from billow.errors import NotFound, ValidationError
from billow.events import request_email
from billow.services.clients.validation import check_lengths, normalise_email
from billow.uow import UnitOfWork

_EMAIL_TAKEN = (select(User.id).where(func.lower(User.email) == bindparam("email"),
                                      User.id != bindparam("exclude")).limit(1))


def user_email_taken(uow: UnitOfWork, email: str, *, exclude: int | None = None) -> bool:
    found = uow.session.connection().execute(
        _EMAIL_TAKEN, {"email": email.lower(), "exclude": exclude or 0}
    ).scalar()
    return found is not None


def create_user(
    uow: UnitOfWork,
    firstname: str,
    lastname: str,
    email: str,
    password: str = "",
    *,
    language: str = "",
    validated: bool = False,
) -> User:
    """Create a login. *validated*: the caller already normalised *email* and checked it
    is free (AddClient does, to answer with its own wording first)."""
    if not validated:
        email = normalise_email(email)
        if user_email_taken(uow, email):
            raise ValidationError("A user already exists with that email address", code="user_email_in_use")
    check_lengths(User, {"firstname": firstname, "lastname": lastname, "email": email,
                         "language": language})
    user = User(
        firstname=firstname,
        lastname=lastname,
        email=email,
        password_hash=security.hash_password(password) if password else "",
        language=language,
    )
    uow.session.add(user)
    uow.session.flush()
    return user


def get_user(uow: UnitOfWork, user_id: int, message: str = "Invalid User ID requested") -> User:
    user = uow.session.get(User, user_id) if user_id else None
    if user is None:
        raise NotFound(message, code="user_not_found")
    return user


def find_user_by_email(uow: UnitOfWork, email: str) -> User | None:
    return uow.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def add_user(
    uow: UnitOfWork, firstname: str, lastname: str, email: str, password: str, language: str = ""
) -> User:
    """The ``AddUser`` rules: every field required, WHMCS's message for each."""
    for value, message in (
        (firstname, "You did not enter a first name"),
        (lastname, "You did not enter a last name"),
        (email, "You did not enter an email address"),
        (password, "You did not enter a password"),
    ):
        if not value.strip():
            raise ValidationError(message, code="required_field_missing")
    email = normalise_email(email, invalid_message="The email address entered is not valid")
    uow.emit("PreUserAdd", {"user_id": 0, "firstname": firstname, "lastname": lastname,
                            "email": email, "language": language})
    user = create_user(uow, firstname, lastname, email, password, language=language)
    uow.emit("UserAdd", user_hook_vars(user), resource_type="user", resource_id=user.id)
    return user


def update_user(uow: UnitOfWork, user_id: int, changes: dict[str, str]) -> User:
    user = get_user(uow, user_id)
    if not changes:
        raise ValidationError(
            "One of `email`, `firstname`, `lastname`, or `language` is required", code="nothing_to_update"
        )
    if "email" in changes:
        email = normalise_email(changes["email"], invalid_message="The email address entered is not valid")
        if user_email_taken(uow, email, exclude=user.id):
            raise ValidationError("A user already exists with that email address", code="user_email_in_use")
        changes["email"] = email
    olddata = user_hook_vars(user)
    check_lengths(User, changes)
    for key, value in changes.items():
        setattr(user, key, value)
    uow.emit("UserEdit", {**user_hook_vars(user), "olddata": olddata}, resource_type="user",
             resource_id=user.id)
    return user


def list_users(uow: UnitOfWork, search: str, descending: bool, offset: int, limit: int):  # type: ignore[no-untyped-def]
    query = select(User)
    if search:
        term = f"%{search}%"
        query = query.where(
            User.email.like(term) | User.firstname.like(term) | User.lastname.like(term)
        )
    total = count_of(uow.session, query)
    order = User.id.desc() if descending else User.id.asc()
    users = list(uow.session.scalars(query.order_by(order).offset(offset).limit(limit)))
    links: dict[int, list[UserClient]] = {u.id: [] for u in users}
    if users:
        for link in uow.session.scalars(
            select(UserClient).where(UserClient.user_id.in_(links)).order_by(UserClient.client_id)
        ):
            links[link.user_id].append(link)
    return total, [(u, links[u.id]) for u in users]


def request_password_reset(uow: UnitOfWork, user_id: int = 0, email: str = "") -> User:
    """Start a password reset: a one-hour token, kept only as a digest, mailed to the user."""
    if not user_id and not email:
        raise ValidationError(
            "Please enter the email address or provide the id", code="user_email_or_id_required"
        )
    if user_id:
        user = get_user(uow, user_id, "User Not Found")
    else:
        if "@" not in email:
            raise ValidationError("Please provide a valid email address", code="invalid_email")
        found = find_user_by_email(uow, email)
        if found is None:
            raise NotFound("User Not Found", code="user_not_found")
        user = found
    token = security.new_token(24)
    user.reset_token_digest = security.keyed_digest(token)
    user.reset_token_expires = uow.now + timedelta(hours=1)
    # The token travels only inside the outbox payload the e-mail worker consumes.

    request_email(uow, "Password Reset Validation", user.id, reset_token=token)
    return user


def validate_login(uow: UnitOfWork, email: str, password: str) -> User:
    user = find_user_by_email(uow, email) if email else None
    # Hashed also for an unknown e-mail (against a dummy hash): no enumeration by timing.
    matched = security.verify_password(user.password_hash if user else "", password)
    if user is None or not matched:
        raise ValidationError("Email or Password Invalid", code="invalid_login")
    user.last_login = uow.now
    user.last_ip = uow.actor.ip
    return user


def login_session_hash(user: User) -> str:
    """What ``ValidateLogin`` returns as ``passwordhash``: derived, never the stored hash."""
    return security.keyed_digest(f"user-session:{user.id}:{user.password_hash}")


def user_hook_vars(user: User) -> dict[str, object]:
    return {
        "user_id": user.id, "firstname": user.firstname, "lastname": user.lastname,
        "email": user.email, "language": user.language,
    }
