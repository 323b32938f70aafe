"""broom's three verbs over fitted models and test tables: ``tidy``, ``glance``, ``augment``.

=====================  ===================================================================
module                 holds
=====================  ===================================================================
``verbs``              the generic functions :func:`tidy`, :func:`glance`, :func:`augment`
                       (``functools.singledispatch``) and the argument checks they share
``mixed_models``       their methods for lmer and glmer fits (broom.mixed)
``gee_models``         their methods for GEE fits (broom's ``geeglm`` tidiers)
``hypothesis_tables``  ``tidy`` of ANOVA and ``contest`` tables (broom's ``tidy.anova``)
=====================  ===================================================================

Every table is a pandas DataFrame whose columns are broom's, written in snake_case (R's
``std.error``, ``p.value``, ``conf.low``, ``df.residual``, ``.sqrtXwt`` are ``std_error``,
``p_value``, ``conf_low``, ``df_residual``, ``.sqrt_xwt``); terms keep R's names
(``sd__(Intercept)``) and R's capitalised statistics keep their capitals (``logLik``,
``AIC``).  Another result class plugs in with ``tidy.register`` (likewise ``glance``,
``augment``).

May import: every model subpackage (:mod:`mlmtools.lmm`, :mod:`mlmtools.glmm`,
:mod:`mlmtools.gee`), :mod:`mlmtools.inference`, :mod:`mlmtools.rstyle` and the bottom layer;
not :mod:`mlmtools.plotting` (same layer).
"""

from mlmtools.broom.gee_models import augment_gee, glance_gee, tidy_gee
from mlmtools.broom.hypothesis_tables import tidy_test_table
from mlmtools.broom.mixed_models import augment_mixed, glance_mixed, tidy_mixed
from mlmtools.broom.verbs import augment, glance, tidy

__all__ = ["augment", "augment_gee", "augment_mixed", "glance", "glance_gee", "glance_mixed", "tidy",
           "tidy_gee", "tidy_mixed", "tidy_test_table"]
