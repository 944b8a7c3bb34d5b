"""The municipality's local information that message templates may use, by key."""

from __future__ import annotations

# Every key is always available to templates ("" when the municipality has not provided
# it), so a template can fall back to general wording instead of breaking.
LOCAL_INFO_KEYS: tuple[str, ...] = (
    "prenatal_checkup",
    "health_center",
    "consultation",
    "birth_registration",
    "child_allowance",
    "postpartum_care",
    "vaccination",
    "checkup_4m",
    "checkup_10m",
    "checkup_1y6m",
    "checkup_3y",
)


def local_info(values: dict[str, str] | None = None) -> dict[str, str]:
    """All local info keys, with the municipality's values where it gave them."""
    given = values or {}
    unknown = set(given) - set(LOCAL_INFO_KEYS)
    if unknown:
        raise ValueError(f"unknown local info keys: {', '.join(sorted(unknown))}")
    return {key: given.get(key, "") for key in LOCAL_INFO_KEYS}
