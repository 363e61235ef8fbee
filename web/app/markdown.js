// A small Markdown renderer that builds DOM nodes — never HTML strings — so model output can
// not inject markup: every piece of text ends up in a Text node. It covers what small chat
// models write: paragraphs, headings, lists, block quotes, fenced code, inline code, bold,
// italic and http(s) links. Anything else stays literal text.

/** Renders `source` into a DocumentFragment. */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)\s*([\w+-]*)\s*$/.exec(line);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++; // the closing fence (or the end while streaming)
      const pre = element('pre');
      const code = element('code');
      if (fence[2]) code.dataset.language = fence[2];
      code.textContent = body.join('\n');
      pre.append(code);
      fragment.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const h = element(`h${Math.min(6, heading[1].length + 2)}`); // h3..h6: messages are not documents
      h.append(inline(heading[2]));
      fragment.append(h);
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d+[.)]\s+/.test(line);
      const list = element(ordered ? 'ol' : 'ul');
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        const item = element('li');
        item.append(inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, '')));
        list.append(item);
        i++;
      }
      fragment.append(list);
      continue;
    }
    if (/^>\s?/.test(line)) {
      const quote = element('blockquote');
      const body = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) body.push(lines[i++].replace(/^>\s?/, ''));
      quote.append(renderMarkdown(body.join('\n')));
      fragment.append(quote);
      continue;
    }
    if (!line.trim()) { i++; continue; }
    const paragraph = [];
    while (i < lines.length && lines[i].trim() && !/^\s*(```|~~~|#{1,6}\s|>|([-*+]|\d+[.)])\s+)/.test(lines[i])) {
      paragraph.push(lines[i++]);
    }
    if (paragraph.length === 0) paragraph.push(lines[i++]); // a line no block rule took
    const p = element('p');
    paragraph.forEach((text, index) => {
      if (index > 0) p.append(element('br'));
      p.append(inline(text));
    });
    fragment.append(p);
  }
  return fragment;
}

function element(name) { return document.createElement(name); }

// Inline spans: `code`, **bold**, *italic* / _italic_, [text](https://…), bare https:// URLs.
const INLINE = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|\b_([^_\s][^_]*)_\b|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

function inline(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) fragment.append(text.slice(last, match.index));
    const [, code, bold, bold2, italic, italic2, linkText, linkURL, bareURL] = match;
    let node;
    if (code !== undefined) { node = element('code'); node.textContent = code; }
    else if (bold !== undefined || bold2 !== undefined) { node = element('strong'); node.append(inline(bold ?? bold2)); }
    else if (italic !== undefined || italic2 !== undefined) { node = element('em'); node.append(inline(italic ?? italic2)); }
    else { node = link(linkText ?? bareURL, linkURL ?? bareURL); }
    fragment.append(node);
    last = match.index + match[0].length;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}

function link(text, href) {
  let url;
  try { url = new URL(href); } catch { return document.createTextNode(text); }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return document.createTextNode(text);
  const a = element('a');
  a.href = url.href;
  a.textContent = text;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  return a;
}
