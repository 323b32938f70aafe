"""The families a model can name: R's family names (``"binomial"``, ``"poisson"``, ...) mapped to the
family objects of :mod:`mlmtools.glmm.families`, and the lookup that glmer and geeglm share.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlmtools.glmm.families import Binomial, Family, Gamma, Gaussian, NegativeBinomial, Poisson

FAMILIES: dict[str, type[Family]] = {"gaussian": Gaussian, "binomial": Binomial, "poisson": Poisson}
"""The families GEE fits, by name."""
FAMILY_CLASSES: dict[str, type[Family]] = FAMILIES | {"gamma": Gamma}
"""Every family that can be named (lower case); the negative binomial needs its theta and is
made by :class:`NegativeBinomial`."""
GLMM_FAMILIES = ("binomial", "poisson", "gamma", "gaussian")
"""The families glmer fits by name (gaussian with a link other than the identity)."""


def get_family(family: str | Family, allowed: Sequence[str] = GLMM_FAMILIES, *,
               clamp: bool = True, link: str | None = None) -> Family:
    """The family object for a name (case-insensitive) or a Family instance.

    Parameters
    ----------
    family : str or Family
        A name from ``allowed`` or an instance of one of those families (a negative binomial
        instance is allowed whenever ``"poisson"`` is).
    allowed : sequence of str
        The family names the calling model fits; glmer's by default.
    clamp : bool
        The numerics the calling model reproduces (see the module docstring). An instance
        whose ``clamp`` differs is replaced by one of the same family and link.
    link : str, optional
        The link, with a family given by name (R's ``binomial(link = "probit")`` is
        ``family="binomial", link="probit"``); the family's canonical link when None.

    Raises
    ------
    ValueError
        For a name or instance outside ``allowed`` (the message lists the allowed ones), a
        link the family does not have, or a link given beside a Family instance.
    """
    if isinstance(family, Family):
        if link is not None and link != family.link:
            raise ValueError(f"link={link!r} was given with a family object whose link is "
                             f"{family.link!r}; give the link inside the family object")
        kind = "poisson" if isinstance(family, NegativeBinomial) else family.family_name.lower()
        if kind in allowed:
            return family.with_clamp(clamp)
    elif isinstance(family, str) and family.lower() in allowed and family.lower() in FAMILY_CLASSES:
        return FAMILY_CLASSES[family.lower()](link=link, clamp=clamp)
    raise ValueError(f"unknown family {family!r}; allowed: {', '.join(repr(f) for f in allowed)}")


__all__ = ["FAMILIES", "FAMILY_CLASSES", "GLMM_FAMILIES", "get_family"]
