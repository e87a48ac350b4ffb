// Light or dark: the system's choice until the reader picks one with the toggle, which is
// kept in localStorage. A classic script loaded in <head>, so that a saved choice is on
// <html> before the first paint and the page never flashes the other theme.
(() => {
  const KEY = "llmhub-theme";
  const root = document.documentElement;
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  function saved() {
    try {
      const theme = localStorage.getItem(KEY);
      return theme === "light" || theme === "dark" ? theme : null;
    } catch {
      return null; // storage refused (private window, policy): follow the system
    }
  }

  function current() {
    return root.dataset.theme || (systemDark.matches ? "dark" : "light");
  }

  function choose(theme) {
    root.dataset.theme = theme;
    try {
      localStorage.setItem(KEY, theme);
    } catch {
      // Not kept across pages, still applied to this one.
    }
  }

  const initial = saved();
  if (initial) root.dataset.theme = initial;

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("theme-toggle");
    if (!toggle) return;
    const sync = () => toggle.setAttribute("aria-pressed", String(current() === "dark"));
    toggle.addEventListener("click", () => {
      choose(current() === "dark" ? "light" : "dark");
      sync();
    });
    systemDark.addEventListener("change", sync);
    sync();
  });
})();
