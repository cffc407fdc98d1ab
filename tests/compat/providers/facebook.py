"""A stand-in for Facebook's token check (no outside service in tests): the
SDK's FacebookUtils sends {id, access_token, expiration_date}."""

from bapp import cloud


def validate_auth_data(auth_data, options):
    if auth_data.get("access_token") != options["accessToken"]:
        raise cloud.Error(cloud.Error.OBJECT_NOT_FOUND, "Facebook auth is invalid for this user.")


def validate_app_id(app_ids, auth_data, options):
    if "test" not in app_ids:
        raise cloud.Error(cloud.Error.OBJECT_NOT_FOUND, "Facebook auth is not configured.")
