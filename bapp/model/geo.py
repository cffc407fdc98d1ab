"""Spherical and planar geometry for Parse geo queries.

Pure functions shared by the in-memory query matcher (LiveQuery and the
in-memory storage backend, which cannot run MongoDB geo operators) and by
anything that has to sort ``$nearSphere`` results by distance.

Conventions: every function takes ``(latitude, longitude)`` in degrees, the
order Parse uses for GeoPoints and Polygon fields.  MongoDB's ``[lng, lat]``
order only appears where the REST protocol itself uses it (``$centerSphere``
pairs, ``$geoWithin.$polygon`` pairs), and the parsers below convert it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bapp.errors import INVALID_JSON, ParseError

# Parse's SDKs convert radians to distances with these radii
# (``GeoPoint.milesTo`` / ``kilometersTo``).
EARTH_RADIUS_MILES = 3958.8
EARTH_RADIUS_KM = 6371.0
RADIANS_TO_MILES = EARTH_RADIUS_MILES
RADIANS_TO_KM = EARTH_RADIUS_KM
# Parse Server divides ``$maxDistanceInMiles`` by 3959 (not 3958.8) when it
# builds the database query; matching must use the same divisor to give the
# same answers at the edge of the radius.
MAX_DISTANCE_MILES_DIVISOR = 3959.0
MAX_DISTANCE_KM_DIVISOR = 6371.0

LatLng = tuple[float, float]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_lat_lng(latitude: Any, longitude: Any) -> LatLng:
    """Check a coordinate pair the way Parse's ``GeoPoint`` does and return it
    as floats; out-of-range or non-numeric values raise 107 instead of letting
    a bad constraint reach the comparison code."""
    if not _is_number(latitude) or not _is_number(longitude):
        raise ParseError(INVALID_JSON, "GeoPoint latitude and longitude must be valid numbers")
    lat, lng = float(latitude), float(longitude)
    if math.isnan(lat) or math.isnan(lng):
        raise ParseError(INVALID_JSON, "GeoPoint latitude and longitude must be valid numbers")
    if lat < -90.0:
        raise ParseError(INVALID_JSON, f"GeoPoint latitude out of bounds: {latitude} < -90.0.")
    if lat > 90.0:
        raise ParseError(INVALID_JSON, f"GeoPoint latitude out of bounds: {latitude} > 90.0.")
    if lng < -180.0:
        raise ParseError(INVALID_JSON, f"GeoPoint longitude out of bounds: {longitude} < -180.0.")
    if lng > 180.0:
        raise ParseError(INVALID_JSON, f"GeoPoint longitude out of bounds: {longitude} > 180.0.")
    return lat, lng


def is_geopoint_json(value: Any) -> bool:
    """True for anything tagged ``{"__type": "GeoPoint"}`` (Parse's own test)."""
    return isinstance(value, dict) and value.get("__type") == "GeoPoint"


def parse_geopoint(value: Any) -> LatLng:
    """``{"__type":"GeoPoint","latitude":..,"longitude":..}`` -> ``(lat, lng)``.

    Raises ParseError(INVALID_JSON) for anything else or out-of-range values.
    """
    if not is_geopoint_json(value):
        raise ParseError(INVALID_JSON, "bad GeoPoint: expected {__type: 'GeoPoint', latitude, longitude}")
    return validate_lat_lng(value.get("latitude"), value.get("longitude"))


def parse_lng_lat_pair(value: Any) -> LatLng:
    """A MongoDB-style ``[lng, lat]`` pair -> ``(lat, lng)`` (validated)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ParseError(INVALID_JSON, "bad coordinate pair: expected [longitude, latitude]")
    return validate_lat_lng(value[1], value[0])


def try_geopoint(value: Any) -> LatLng | None:
    """Lenient variant for values read from stored objects: ``None`` instead of
    an error, because a malformed stored point must simply not match."""
    if not is_geopoint_json(value):
        return None
    try:
        return validate_lat_lng(value.get("latitude"), value.get("longitude"))
    except ParseError:
        return None


def try_polygon(value: Any) -> list[LatLng] | None:
    """Coordinates of a stored ``{"__type":"Polygon","coordinates":[[lat,lng],..]}``
    or ``None`` when the value is not a usable polygon."""
    if not isinstance(value, dict) or value.get("__type") != "Polygon":
        return None
    coords = value.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 3:
        return None
    ring: list[LatLng] = []
    for pair in coords:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return None
        if not _is_number(pair[0]) or not _is_number(pair[1]):
            return None
        ring.append((float(pair[0]), float(pair[1])))
    return ring


def parse_box(value: Any) -> tuple[LatLng, LatLng]:
    """``$within`` argument ``{"$box": [sw, ne]}`` -> ``((lat, lng), (lat, lng))``."""
    box = value.get("$box") if isinstance(value, dict) else None
    if not isinstance(box, list) or len(box) != 2:
        raise ParseError(INVALID_JSON, "malformatted $within arg")
    return parse_geopoint(box[0]), parse_geopoint(box[1])


def parse_within_polygon(polygon: Any) -> list[LatLng]:
    """``$geoWithin.$polygon`` -> ``[(lat, lng), ...]``.

    Accepts GeoPoints, bare pairs or a Polygon object.  Bare pairs, including
    a Polygon object's coordinates, are read as ``[lng, lat]``: Parse Server
    hands them to MongoDB unchanged, and MongoDB reads x before y.
    """
    if isinstance(polygon, dict) and polygon.get("__type") == "Polygon":
        points = polygon.get("coordinates")
        if not isinstance(points, list) or len(points) < 3:
            raise ParseError(
                INVALID_JSON,
                "bad $geoWithin value; Polygon.coordinates should contain at least 3 lon/lat pairs",
            )
    elif isinstance(polygon, list):
        if len(polygon) < 3:
            raise ParseError(
                INVALID_JSON, "bad $geoWithin value; $polygon should contain at least 3 GeoPoints"
            )
        points = polygon
    else:
        raise ParseError(
            INVALID_JSON,
            "bad $geoWithin value; $polygon should be Polygon object or Array of Parse.GeoPoint's",
        )
    ring: list[LatLng] = []
    for point in points:
        if isinstance(point, list) and len(point) == 2:
            ring.append(parse_lng_lat_pair(point))
        elif is_geopoint_json(point):
            ring.append(parse_geopoint(point))
        else:
            raise ParseError(INVALID_JSON, "bad $geoWithin value")
    return ring


def parse_center_sphere(sphere: Any) -> tuple[LatLng, float]:
    """``$geoWithin.$centerSphere`` ``[GeoPoint | [lng, lat], radians]`` ->
    ``((lat, lng), radians)``, with Parse Server's error texts."""
    if not isinstance(sphere, list) or len(sphere) < 2:
        raise ParseError(
            INVALID_JSON,
            "bad $geoWithin value; $centerSphere should be an array of Parse.GeoPoint and distance",
        )
    center = sphere[0]
    if isinstance(center, list) and len(center) == 2:
        point = parse_lng_lat_pair(center)
    elif is_geopoint_json(center):
        point = parse_geopoint(center)
    else:
        raise ParseError(INVALID_JSON, "bad $geoWithin value; $centerSphere geo point invalid")
    radius = sphere[1]
    if not _is_number(radius) or math.isnan(radius) or radius < 0:
        raise ParseError(INVALID_JSON, "bad $geoWithin value; $centerSphere distance invalid")
    return point, float(radius)


def haversine_radians(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in radians (the unit of ``$maxDistance``)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = math.radians(lat2 - lat1)
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2.0 * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def radians_to_miles(radians: float) -> float:
    return radians * RADIANS_TO_MILES


def radians_to_km(radians: float) -> float:
    return radians * RADIANS_TO_KM


def miles_to_radians(miles: float) -> float:
    """``$maxDistanceInMiles`` -> radians, with Parse Server's divisor."""
    return miles / MAX_DISTANCE_MILES_DIVISOR


def km_to_radians(km: float) -> float:
    """``$maxDistanceInKilometers`` -> radians, with Parse Server's divisor."""
    return km / MAX_DISTANCE_KM_DIVISOR


def _on_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> bool:
    eps = 1e-12
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if abs(cross) > eps * max(1.0, abs(bx - ax) + abs(by - ay)):
        return False
    return min(ax, bx) - eps <= px <= max(ax, bx) + eps and min(ay, by) - eps <= py <= max(ay, by) + eps


def point_in_polygon(lat: float, lng: float, ring: Sequence[Sequence[float]]) -> bool:
    """Planar ray casting over ``[(lat, lng), ...]``; the boundary counts as
    inside, as it does for MongoDB's ``$geoWithin``/``$geoIntersects``.
    The ring may be open or closed."""
    pts = [(float(p[1]), float(p[0])) for p in ring]  # (x=lng, y=lat)
    if len(pts) >= 2 and pts[0] == pts[-1]:
        pts.pop()
    n = len(pts)
    if n < 3:
        return False
    x, y = float(lng), float(lat)
    inside = False
    j = n - 1
    for i in range(n):
        xi, yi = pts[i]
        xj, yj = pts[j]
        if _on_segment(x, y, xi, yi, xj, yj):
            return True
        if (yi > y) != (yj > y):
            x_cross = (xj - xi) * (y - yi) / (yj - yi) + xi
            if x < x_cross:
                inside = not inside
        j = i
    return inside


def point_in_box(lat: float, lng: float, sw: Sequence[float], ne: Sequence[float]) -> bool:
    """``$within.$box`` with ``sw``/``ne`` as ``(lat, lng)``; edges included.
    The corners may come in either order: MongoDB's ``$box`` spans the two
    points whichever is given first (so the SDKs' withinGeoBox with swapped
    corners finds the same objects)."""
    s, n = sorted((float(sw[0]), float(ne[0])))
    w, e = sorted((float(sw[1]), float(ne[1])))
    return s <= lat <= n and w <= lng <= e


def within_center_sphere(
    lat: float, lng: float, center_lat: float, center_lng: float, radius_radians: float
) -> bool:
    """``$geoWithin.$centerSphere``: within ``radius_radians`` of the centre."""
    return haversine_radians(lat, lng, center_lat, center_lng) <= radius_radians


def polygon_contains_point(polygon_coordinates_lat_lng: Sequence[Sequence[float]], point: Sequence[float]) -> bool:
    """``$geoIntersects.$point`` against a Polygon field (``[[lat, lng], ...]``)."""
    return point_in_polygon(float(point[0]), float(point[1]), polygon_coordinates_lat_lng)


def distance_key(obj_point: Any, center: Any) -> float:
    """Sort key for ``$nearSphere`` results: radians from ``center``.

    ``obj_point`` is the object's GeoPoint JSON (or a ``(lat, lng)`` pair);
    ``center`` likewise.  Missing or malformed points sort last (``inf``).
    """
    a = _as_lat_lng(obj_point)
    b = _as_lat_lng(center)
    if a is None or b is None:
        return math.inf
    return haversine_radians(a[0], a[1], b[0], b[1])


def _as_lat_lng(value: Any) -> LatLng | None:
    if isinstance(value, dict):
        return try_geopoint(value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(v) for v in value):
        return float(value[0]), float(value[1])
    return None
