"""Tests of mlmtools.frame.build_model against R (lme4 1.1-31, R 4.2.2).

R's numbers come from tests/fixtures/lmer_cases.json (made by tests/fixtures/r/
make_lmer_cases.R) and tests/fixtures/seed-reference.json (seed-reference.R): coefficient
names, number of observations and of levels, the order of the random terms (VarCorr), the
order of the levels (ranef), the dropped column of a rank-deficient design, and
``predict(m, newdata, re.form = NA)``, which is ``X_new %*% fixef(m)`` and so checks the
stored encodings (factor levels, scale() centre and scale) on new data.
"""

import inspect
import json
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmtools.exceptions import FormulaError, MissingRowsWarning, RankDeficiencyWarning
from mlmtools.frame import ColumnNotFoundError, build_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LMER_CASES = json.loads((FIXTURES / "lmer_cases.json").read_text())["cases"]


def read_fixture_csv(name):
    # make_lmer_cases.R stores Subject as text; read it back as text, as R did
    return pd.read_csv(FIXTURES / name, dtype={"Subject": str})


@pytest.fixture(scope="module")
def sleepstudy():
    return read_fixture_csv("data_sleepstudy.csv")


@pytest.fixture
def small():
    rng = np.random.default_rng(20260)
    n = 24
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": rng.normal(size=n),
        "z": rng.uniform(1, 2, size=n),
        "grp": ["a", "b", "c"] * 8,
        "num": np.repeat([1, 2, 10], 8),
        "sub": np.tile(np.repeat(["u", "v"], 4), 3),
        "flag": [True, False] * 12,
        "g": np.repeat([f"g{i}" for i in range(6)], 4),
    })


def build_quietly(formula, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficiencyWarning)
        return build_model(formula, data, **kwargs)


def case_arguments(case):
    kwargs = {}
    if "weights = w" in case["call"]:
        kwargs["weights"] = "w"
    if "offset = off" in case["call"]:
        kwargs["offset"] = "off"
    return kwargs


# --------------------------------------------------------------------------- against R


@pytest.mark.parametrize("name", sorted(LMER_CASES))
def test_frame_matches_lme4(name):
    case = LMER_CASES[name]
    frame = build_quietly(case["formula"], read_fixture_csv(case["data"]), **case_arguments(case))
    assert frame.fixed_names == tuple(case["fixef"])
    assert frame.n == case["nobs"]
    assert {term.group: len(term.levels) for term in frame.terms} == case["ngrps"]
    # VarCorr lists the terms in lme4's order; a repeated factor is printed "Subject.1"
    r_groups = list(dict.fromkeys(g for g in case["varcorr"]["columns"]["grp"] if g != "Residual"))
    assert [term.group for term in frame.terms] == [g.split(".")[0] for g in r_groups]


@pytest.mark.parametrize("name", sorted(LMER_CASES))
def test_level_order_matches_lme4_ranef(name):
    case = LMER_CASES[name]
    frame = build_quietly(case["formula"], read_fixture_csv(case["data"]), **case_arguments(case))
    columns = case["ranef"]["columns"]
    r_levels, levels = defaultdict(list), defaultdict(list)
    for group, term, level in zip(columns["grpvar"], columns["term"], columns["grp"]):
        r_levels[(group.split(".")[0], term)].append(level)
    for term in frame.terms:
        for column in term.columns:
            levels[(term.group, column)].extend(term.levels)
    assert levels == r_levels


@pytest.mark.parametrize("name", sorted(LMER_CASES))
def test_fixed_matrix_on_new_data_reproduces_r_predictions(name):
    case = LMER_CASES[name]
    frame = build_quietly(case["formula"], read_fixture_csv(case["data"]), **case_arguments(case))
    newdata = read_fixture_csv(case["newdata"])
    prediction = frame.fixed_matrix(newdata) @ np.array(list(case["fixef"].values()))
    formula_offset = frame.formula_offset(newdata)
    if formula_offset is not None:
        prediction = prediction + formula_offset
    np.testing.assert_allclose(prediction, case["predict_fixed"], rtol=1e-12, atol=1e-10)


def test_rank_deficient_column_is_the_one_lme4_drops():
    case = LMER_CASES["rank_deficient"]
    with pytest.warns(RankDeficiencyWarning) as record:
        frame = build_model(case["formula"], read_fixture_csv(case["data"]))
    assert frame.dropped_columns == tuple(case["col_dropped"])
    assert len(record) == 1
    assert str(record[0].message) == f"{case['messages'][0]}: x3"
    assert frame.X.shape == (case["nobs"], 3)


def test_factor_coding_gives_r_fixef_of_the_balanced_model(sleepstudy):
    # Balanced data, within-subject factor: lmer's GLS estimate equals least squares, so
    # least squares on our X must give R's fixef(lmer(Reaction ~ Days_cat + (1 | Subject))).
    reference = json.loads((FIXTURES / "seed-reference.json").read_text())["m_cat_fixef"]
    data = sleepstudy.assign(Days_cat=pd.Categorical(sleepstudy["Days"]))
    frame = build_model("Reaction ~ Days_cat + (1 | Subject)", data)
    assert frame.fixed_names == ("(Intercept)",) + tuple(f"Days_cat{d}" for d in range(1, 10))
    beta = np.linalg.lstsq(frame.X, frame.y, rcond=None)[0]
    np.testing.assert_allclose(beta, reference, rtol=1e-12)


# --------------------------------------------------------------------------- sleepstudy


def test_sleepstudy_random_slope(sleepstudy):
    frame = build_model("Reaction ~ Days + (1 + Days | Subject)", sleepstudy)
    assert frame.X.shape == (180, 2)
    assert frame.fixed_names == ("(Intercept)", "Days")
    (term,) = frame.terms
    assert (term.group, len(term.levels), term.columns) == ("Subject", 18, ("(Intercept)", "Days"))
    np.testing.assert_array_equal(term.X[:, 1], sleepstudy["Days"].to_numpy())
    assert term.levels[term.codes[0]] == sleepstudy["Subject"].iloc[0]
    assert frame.random_labels == ("1 + Days | Subject",)
    assert frame.row_index.equals(sleepstudy.index)


def test_double_bar_gives_two_terms(sleepstudy):
    frame = build_model("Reaction ~ Days + (1 + Days || Subject)", sleepstudy)
    assert [(t.group, t.columns) for t in frame.terms] == [("Subject", ("(Intercept)",)),
                                                            ("Subject", ("Days",))]


def test_numeric_subject_ids_sort_like_r_factor(sleepstudy):
    as_numbers = sleepstudy.assign(Subject=sleepstudy["Subject"].astype(int))
    frame = build_model("Reaction ~ Days + (1 | Subject)", as_numbers)
    assert frame.terms[0].levels == build_model("Reaction ~ Days + (1 | Subject)",
                                                sleepstudy).terms[0].levels


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("formula", "names"),
    [
        ("y ~ x * grp + (1|g)", ("(Intercept)", "x", "grpb", "grpc", "x:grpb", "x:grpc")),
        ("y ~ grp * x + (1|g)", ("(Intercept)", "grpb", "grpc", "x", "grpb:x", "grpc:x")),
        ("y ~ 0 + grp + (1|g)", ("grpa", "grpb", "grpc")),
        ("y ~ grp - 1 + x + (1|g)", ("grpa", "grpb", "grpc", "x")),
        ("y ~ x:grp + (1|g)", ("(Intercept)", "x:grpa", "x:grpb", "x:grpc")),
        ("y ~ 0 + grp:sub + (1|g)",
         ("grpa:subu", "grpb:subu", "grpc:subu", "grpa:subv", "grpb:subv",
          "grpc:subv")),
        ("y ~ grp * sub + (1|g)",
         ("(Intercept)", "grpb", "grpc", "subv", "grpb:subv", "grpc:subv")),
        ("y ~ flag + (1|g)", ("(Intercept)", "flagTRUE")),
        ("y ~ factor(num) + (1|g)", ("(Intercept)", "factor(num)2", "factor(num)10")),
        ("y ~ C(grp) + (1|g)", ("(Intercept)", "C(grp)b", "C(grp)c")),
        ("y ~ x + I(x^2) + log(z) + scale(z) + (1|g)",
         ("(Intercept)", "x", "I(x^2)", "log(z)", "scale(z)")),
        ("y ~ poly(z, 2) + (1|g)", ("(Intercept)", "poly(z, 2)1", "poly(z, 2)2")),
        ("y ~ x + (1|g) + z", ("(Intercept)", "x", "z")),
    ],
)
def test_fixed_names_as_r_model_matrix(small, formula, names):
    assert build_quietly(formula, small).fixed_names == names


def test_categorical_uses_its_category_order(small):
    data = small.assign(grp=pd.Categorical(small["grp"], categories=["c", "a", "b", "unused"]))
    assert build_model("y ~ grp + (1|g)", data).fixed_names == ("(Intercept)", "grpa", "grpb")


def test_interaction_column_values(small):
    frame = build_model("y ~ x * grp + (1|g)", small)
    column = frame.X[:, frame.fixed_names.index("x:grpb")]
    np.testing.assert_array_equal(column, small["x"] * (small["grp"] == "b"))
    np.testing.assert_array_equal(frame.X[:, frame.fixed_names.index("grpc")],
                                  (small["grp"] == "c").astype(float))


def test_transform_values(small):
    frame = build_model("y ~ I(x^2) + log(z) + exp(x) + sqrt(z) + abs(x) + I((x + 1)/2) "
                        "+ scale(z) + (1|g)", small)
    x, z = small["x"].to_numpy(), small["z"].to_numpy()
    expected = {
        "I(x^2)": x**2, "log(z)": np.log(z), "exp(x)": np.exp(x), "sqrt(z)": np.sqrt(z),
        "abs(x)": np.abs(x), "I((x + 1)/2)": (x + 1) / 2,
        "scale(z)": (z - z.mean()) / z.std(ddof=1),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(frame.X[:, frame.fixed_names.index(name)], values, rtol=1e-14)


def test_poly_follows_r_qr_construction(small):
    # R's poly(): centre x, QR of [1, x, x^2], Z = Q diag(R), columns 2.. normalised.
    frame = build_model("y ~ poly(z, 2) + (1|g)", small)
    z = small["z"].to_numpy()
    centred = z - z.mean()
    q, r = np.linalg.qr(np.column_stack([np.ones_like(z), centred, centred**2]))
    basis = (q * np.diag(r))[:, 1:]
    basis /= np.linalg.norm(basis, axis=0)
    np.testing.assert_allclose(frame.X[:, 1:], basis, atol=1e-12)


def test_new_data_reuses_scale_and_poly_encodings(small):
    frame = build_model("y ~ scale(x) + poly(z, 2) + factor(num) + (1|g)", small)
    np.testing.assert_allclose(frame.fixed_matrix(small.iloc[[3, 7, 20]]), frame.X[[3, 7, 20]],
                               atol=1e-12)


# --------------------------------------------------------------------------- random terms


def test_nested_terms_sorted_by_levels(small):
    frame = build_model("y ~ x + (1 | num/sub)", small)
    assert [(t.group, len(t.levels)) for t in frame.terms] == [("sub:num", 6), ("num", 3)]
    assert frame.terms[0].levels == ("u:1", "u:2", "u:10", "v:1", "v:2", "v:10")


def test_interaction_group_keeps_only_levels_that_occur(small):
    data = small[~((small["grp"] == "a") & (small["sub"] == "v"))]
    frame = build_model("y ~ x + (1 | grp:sub)", data)
    assert frame.terms[0].levels == ("a:u", "b:u", "b:v", "c:u", "c:v")
    labels = np.array(frame.terms[0].levels)[frame.terms[0].codes]
    np.testing.assert_array_equal(labels, data["grp"] + ":" + data["sub"])


def test_terms_with_tied_level_counts_follow_lme4_order(small):
    # lme4's mkReTrms reorders with rev(order(nl)) when a later term has more levels:
    # ties come out in reverse formula order.
    frame = build_model("y ~ x + (1 | num) + (0 + x | num) + (1 | g)", small)
    assert frame.random_labels == ("1 | g", "0 + x | num", "1 | num")
    # without a later, larger term the formula order is kept
    frame = build_model("y ~ x + (1 | g) + (1 | num) + (0 + x | num)", small)
    assert frame.random_labels == ("1 | g", "1 | num", "0 + x | num")


def test_random_factor_slope_columns(small):
    frame = build_model("y ~ x + (0 + grp | g)", small)
    assert frame.terms[0].columns == ("grpa", "grpb", "grpc")


def test_random_matrices_for_new_data(small):
    frame = build_model("y ~ x + (1 + x | g)", small)
    newdata = pd.DataFrame({"x": [0.5, 1.0], "g": ["g3", "g99"]})
    ((codes, matrix),) = frame.random_matrices(newdata)
    np.testing.assert_array_equal(codes, [frame.terms[0].levels.index("g3"), -1])
    np.testing.assert_array_equal(matrix, [[1, 0.5], [1, 1.0]])


# --------------------------------------------------------------------------- data handling


def test_missing_rows_dropped_with_one_warning(small):
    data = small.astype({"x": float, "grp": object})
    data.loc[[0, 3], "x"] = np.nan
    data.loc[5, "y"] = np.nan
    data.loc[3, "grp"] = None
    with pytest.warns(MissingRowsWarning) as record:
        frame = build_model("y ~ x + grp + (1|g)", data)
    assert len(record) == 1
    assert str(record[0].message) == "dropped 3 rows with missing values in: y, x, grp"
    assert frame.n_dropped == 3 and frame.n == 21
    assert list(frame.row_index[:4]) == [1, 2, 4, 6]


def test_missing_values_in_weights_and_extra_columns(small):
    weights = np.ones(len(small))
    weights[2] = np.nan
    data = small.assign(site=[None] + ["s"] * (len(small) - 1))
    message = "2 rows with missing values in: site, \\(weights\\)"
    with pytest.warns(MissingRowsWarning, match=message):
        frame = build_model("y ~ x + (1|g)", data, weights=weights, extra_columns=["site"])
    assert frame.weights.shape == (22,)
    assert list(frame.extra["site"]) == ["s"] * 22


def test_na_action_fail(small):
    with pytest.raises(ValueError, match="1 rows have missing values in: x"):
        build_model("y ~ x + (1|g)", small.assign(x=[np.nan] + [1.0] * 23), na_action="fail")


def test_all_rows_missing(small):
    with pytest.raises(ValueError, match="no rows left"):
        build_model("y ~ x + (1|g)", small.assign(x=np.nan))


def test_weights_and_offset_by_name_or_array(small):
    data = small.assign(w=np.arange(1, 25, dtype=float), off=0.5)
    frame = build_model("y ~ x + offset(z) + (1|g)", data, weights="w", offset=np.full(24, 2.0))
    np.testing.assert_array_equal(frame.weights, data["w"])
    np.testing.assert_allclose(frame.offset, 2.0 + data["z"])
    with pytest.raises(ValueError, match="weights has length 3 but data has 24 rows"):
        build_model("y ~ x + (1|g)", data, weights=[1, 2, 3])
    with pytest.raises(ValueError, match="non-negative"):
        build_model("y ~ x + (1|g)", data.assign(w=-1.0), weights="w")


def test_cbind_response(small):
    data = small.assign(s=np.arange(24) % 5, f=(np.arange(24) * 7) % 4)
    frame = build_model("cbind(s, f) ~ x + (1|g)", data, weights=np.full(24, 2.0))
    trials = data["s"] + data["f"]
    expected = np.where(trials > 0, data["s"] / trials.where(trials > 0, 1), 0.0)
    np.testing.assert_allclose(frame.y, expected)
    np.testing.assert_allclose(frame.weights, 2.0 * trials)
    assert frame.response_kind == "cbind" and frame.response_name == "cbind(s, f)"


def test_log_response_and_boolean_response(small):
    frame = build_model("log(z) ~ x + (1|g)", small)
    np.testing.assert_allclose(frame.y, np.log(small["z"]))
    frame = build_model("flag ~ x + (1|g)", small)
    np.testing.assert_array_equal(frame.y, small["flag"].astype(float))


def test_gee_formula_without_random_terms(small):
    frame = build_model("y ~ x", small, require_random=False, extra_columns=["g"])
    assert frame.terms == () and frame.fixed_names == ("(Intercept)", "x")
    assert list(frame.extra["g"]) == list(small["g"])


# --------------------------------------------------------------------------- errors


def test_unknown_column_suggests_close_names(sleepstudy):
    with pytest.raises(ColumnNotFoundError, match="column 'Reacton' .*not found in data; "
                                                  "did you mean 'Reaction'"):
        build_model("Reacton ~ Days + (1 | Subject)", sleepstudy)
    with pytest.raises(KeyError):
        build_model("Reaction ~ Dayz + (1 | Subject)", sleepstudy)


def test_missing_random_slope_variable_is_named(sleepstudy):
    with pytest.raises(ColumnNotFoundError, match="column 'Night' \\(used in the random-effects "
                                                  "term \\(1 \\+ Night \\| Subject\\)\\)"):
        build_model("Reaction ~ Days + (1 + Night | Subject)", sleepstudy)


def test_no_random_terms(sleepstudy):
    with pytest.raises(FormulaError, match="^no random effects terms specified in formula$"):
        build_model("Reaction ~ Days", sleepstudy)


def test_grouping_factor_with_one_level(small):
    with pytest.raises(ValueError, match="grouping factor 'k' has only one level \\(k1\\); a "
                                         "random effect needs at least two"):
        build_model("y ~ x + (1 | k)", small.assign(k="k1"))


def test_as_many_levels_as_observations(small):
    data = small.assign(obs=range(len(small)))
    with pytest.raises(ValueError, match="number of levels of each grouping factor must be < "
                                         "number of observations \\(problems: obs"):
        build_model("y ~ x + (1 | obs)", data)
    frame = build_model("y ~ x + (1 | obs)", data, allow_n_levels=True)
    assert len(frame.terms[0].levels) == len(small)


def test_infinite_values(small):
    with pytest.raises(ValueError, match="column 'x' contains infinite values"):
        build_model("y ~ x + (1|g)", small.assign(x=np.inf))
    with pytest.raises(ValueError, match="column 'y' contains infinite values"):
        build_model("y ~ x + (1|g)", small.assign(y=np.inf))
    with pytest.raises(ValueError, match="column 'log\\(x\\)'"):
        build_model("y ~ log(x) + (1|g)", small.assign(x=-1.0))


def test_non_numeric_response(small):
    with pytest.raises(TypeError, match="response 'grp' must be numeric"):
        build_model("grp ~ x + (1|g)", small)


def test_text_column_in_arithmetic(small):
    with pytest.raises(TypeError, match="column 'grp' is not numeric"):
        build_model("y ~ log(grp) + (1|g)", small)


def test_empty_data_and_one_sided_formula(small):
    with pytest.raises(ValueError, match="data has no rows"):
        build_model("y ~ x + (1|g)", small.iloc[:0])
    with pytest.raises(FormulaError, match="has no response"):
        build_model("~ x + (1|g)", small)


def test_new_data_errors(small):
    frame = build_model("y ~ x + grp + (1|g)", small)
    with pytest.raises(ValueError, match="factor 'grp' has level\\(s\\) 'd' that did not occur"):
        frame.fixed_matrix(pd.DataFrame({"x": [1.0], "grp": ["d"]}))
    with pytest.raises(ColumnNotFoundError, match="column 'grp'"):
        frame.fixed_matrix(pd.DataFrame({"x": [1.0]}))


def test_single_level_factor_in_fixed_part(small):
    with pytest.raises(ValueError, match="factor 'k' has only one level"):
        build_model("y ~ k + (1|g)", small.assign(k="only"))


def test_transformed_response_must_be_finite(small):
    with pytest.raises(ValueError, match="response 'log\\(z\\)' has infinite or undefined"):
        build_model("log(z) ~ x + (1|g)", small.assign(z=0.0))


def test_warnings_point_at_the_caller(small):
    data = small.assign(x=small["x"].where(small.index > 0))
    with pytest.warns(MissingRowsWarning) as record:
        line = inspect.currentframe().f_lineno + 1
        build_model("y ~ x + (1|g)", data)
    assert (record[0].filename, record[0].lineno) == (__file__, line)

    def wrapper():
        return build_model("y ~ x + (1|g)", data, stacklevel=3)

    with pytest.warns(MissingRowsWarning) as record:
        line = inspect.currentframe().f_lineno + 1
        wrapper()
    assert (record[0].filename, record[0].lineno) == (__file__, line)


# ---------------------------------------------------------------- fast paths keep R's rules


def test_cheap_full_rank_test_never_overrules_the_exact_check():
    from mlmtools.frame.model_matrix import RANK_TOLERANCE, clearly_full_rank, negligible_columns

    rng = np.random.default_rng(11)
    taken = 0
    for _ in range(400):
        n, p = int(rng.integers(3, 400)), int(rng.integers(1, 6))
        X = rng.normal(size=(n, p)) * 10.0 ** rng.integers(-6, 7, size=p)
        if p > 1:  # make one column nearly a combination of the earlier ones
            j = int(rng.integers(1, p))
            noise = 10.0 ** rng.uniform(-14, 0) * np.abs(X[:, :j]).mean()
            X[:, j] = X[:, :j] @ rng.normal(size=j) + noise * rng.normal(size=n)
        if clearly_full_rank(X):
            taken += 1
            assert negligible_columns(X, RANK_TOLERANCE) == []
            assert negligible_columns(X, 1e-2) == []  # a margin of five orders of magnitude
    assert 50 < taken < 400  # both paths were exercised


def test_interaction_grouping_levels_are_the_occurring_combinations_in_r_order():
    rng = np.random.default_rng(5)
    n = 60
    data = pd.DataFrame({
        "y": rng.normal(size=n),
        "a": rng.choice(["b2", "a10", "a9"], size=n),
        "b": rng.choice([3, 20, 100], size=n),
        "c": rng.choice(["x", "x:y"], size=n),  # a ':' in a level: labels may collide
    })
    data.loc[3, "a"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingRowsWarning)
        for group in ("a:b", "b:a", "a:b:c", "c:a"):
            term = build_model(f"y ~ 1 + (1 | {group})", data).terms[0]
            kept = data.dropna()
            names = group.split(":")
            labels = [":".join(str(v) for v in row) for row in kept[names].itertuples(index=False)]
            orders = [sorted(kept[name].unique()) for name in names]
            expected = [":".join(str(v) for v in combo) for combo in
                        pd.MultiIndex.from_product(orders).to_flat_index()]
            expected = [label for label in expected if label in set(labels)]
            assert term.levels == tuple(expected)
            assert [term.levels[c] for c in term.codes] == labels
