// Figures shown beside replies, in the page's language ("35.2" in English, "35,2" in French).
export function oneDecimal(value) {
  return value.toLocaleString(document.documentElement.lang || undefined,
    { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}
