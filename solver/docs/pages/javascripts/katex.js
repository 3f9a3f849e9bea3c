// Typeset the maths of every page with the vendored KaTeX, again after Material's instant
// navigation swaps a page in. Arithmatex writes inline maths as \( \) and display as \[ \].
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
});
