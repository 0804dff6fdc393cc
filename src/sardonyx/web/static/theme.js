// Apply the "system" theme before the page paints (the server renders the forced light/dark choices itself).
(function () {
  var root = document.documentElement;
  if (root.getAttribute("data-theme-choice") === "system" && window.matchMedia &&
      window.matchMedia("(prefers-color-scheme: dark)").matches) {
    root.setAttribute("data-theme", "dark");
  }
})();
