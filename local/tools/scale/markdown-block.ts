/**
 * Replaces what lies between `<!-- name -->` and `<!-- /name -->` in a Markdown document, keeping
 * the markers, so a generated table can live inside prose written by hand. A document without
 * both markers, in that order, is an error: the table would otherwise be lost or misplaced.
 */
export function replaceBlock(document: string, name: string, content: string): string {
  const open = `<!-- ${name} -->`;
  const close = `<!-- /${name} -->`;
  const start = document.indexOf(open);
  const end = document.indexOf(close);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`the document has no ${open} … ${close} block`);
  }
  return `${document.slice(0, start + open.length)}\n${content.trim()}\n${document.slice(end)}`;
}
