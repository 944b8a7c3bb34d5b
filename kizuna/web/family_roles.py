"""The roles of a child's followers, as pages name them."""

from kizuna.web.pages import N_

ROLE_NAMES = {
    "parent": N_("Parent"),
    "partner": N_("Partner"),
    "co_parent": N_("Co-parent"),
    "grandparent": N_("Grandparent"),
    "other": N_("Other carer"),
}
