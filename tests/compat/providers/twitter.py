"""A stand-in for Twitter's OAuth1 check: the consumer key must be the
configured one."""

from bapp import cloud


async def validate_auth_data(auth_data, options):
    if auth_data.get("consumer_key") != options["consumer_key"] or not auth_data.get("auth_token"):
        raise cloud.Error(cloud.Error.OBJECT_NOT_FOUND, "Twitter auth is invalid for this user.")
