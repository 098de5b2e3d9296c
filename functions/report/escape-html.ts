/** Text as HTML shows it: the five characters that could open markup or end an attribute, as references. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
