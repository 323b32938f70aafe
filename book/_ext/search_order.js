// The book's search scorer (see search_order.py): chapters first, then the other pages, then the API reference;
// equations in the result snippets as plain text. Sphinx loads this after searchtools.js, which defines
// `Scorer` and `Search`.

// Added to a result's score. A word found in a page's text scores 5 and a page or section title up to 16,
// while a match in an API object's name scores up to 26: the chapters and pages must outrank that.
const COURSE_SEARCH_BOOST = [
  {prefix: "notebooks/", boost: 40},  // the chapters
  {prefix: "book/api", boost: 0},     // the API reference
  {prefix: "", boost: 25},            // the other pages of the book
];

Scorer.score = (result) => {
  const [docname, , , , score] = result;
  return score + COURSE_SEARCH_BOOST.find(({prefix}) => docname.startsWith(prefix)).boost;
};

const COURSE_TEX_SYMBOLS = {
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ", eta: "η",
  theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ", sigma: "σ", tau: "τ",
  phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ",
  Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω", sum: "Σ", prod: "Π", int: "∫", infty: "∞", partial: "∂",
  cdot: "·", times: "×", pm: "±", mp: "∓", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
  approx: "≈", sim: "~", to: "→", rightarrow: "→", mid: "|", top: "ᵀ", ldots: "…", dots: "…", cdots: "…",
  in: "∈", sqrt: "√", log: "log", exp: "exp", max: "max", min: "min", quad: " ", qquad: " ",
};

// TeX as a reader would say it in plain text: \(\hat\sigma^2_{u0}\) becomes σ̂²_u0.
const coursePlainMath = (tex) => tex
  .replace(/\\[()[\]]/g, " ")
  .replace(/\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)")
  .replace(/\^\{?([23])\}?/g, (match, power) => (power === "2" ? "²" : "³"))
  .replace(/\\(hat|widehat|bar|overline)\s*\{?\\?([A-Za-z]+)\}?/g,
           (match, accent, base) => (COURSE_TEX_SYMBOLS[base] ?? base) + (accent.endsWith("hat") ? "\u0302" : "\u0304"))
  .replace(/\\([A-Za-z]+)/g, (match, name) => COURSE_TEX_SYMBOLS[name] ?? "")
  .replace(/[{}]/g, "")
  .replace(/\\\\|\\[,;:! ]|&/g, " ")
  .replace(/\^(?=ᵀ)/g, "")
  .replace(/\s+/g, " ")
  .trim();

const courseHtmlToText = Search.htmlToText;
// The snippet of a result is cut from the page's text: equations in it become plain text first.
Search.htmlToText = (htmlString, anchor) => {
  const page = new DOMParser().parseFromString(htmlString, "text/html");
  page.querySelectorAll(".math").forEach((math) => {
    math.querySelectorAll(".headerlink").forEach((link) => link.remove());
    math.textContent = ` ${coursePlainMath(math.textContent)} `;
  });
  return courseHtmlToText(page.documentElement.outerHTML, anchor);
};
