"""The JS SDK spec's CustomAuth adapter: accepts any authData, and checks
that the options of the config file reach it."""

from bapp import cloud


async def validate_auth_data(auth_data, options):
    if (options.get("option1"), options.get("option2")) != ("hello", "world"):
        raise cloud.Error(cloud.Error.OBJECT_NOT_FOUND, "myAuth options missing")


def validate_app_id(app_ids, auth_data, options):
    return None
