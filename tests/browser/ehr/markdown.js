// A small, safe Markdown renderer for card `detail` (CDS Hooks: GitHub-Flavored Markdown).
//
// Safe by construction: the whole input is HTML-escaped first, so no tag or attribute the service
// writes can reach the DOM; only the elements built here exist in the output. Supported: paragraphs
// (blank line), soft line breaks (rendered as <br>, as the sandbox does), headings (#..######),
// thematic breaks (---), bullet and numbered lists (nested one level), GFM task items (`- [ ]`,
// `- [x]`, shown as disabled checkboxes as the sandbox shows them), **bold** / __bold__, *italic* / _italic_, `code`, and
// links [text](url) and <url> to http(s) or mailto only, opening in a new tab (target=_blank,
// rel=noopener noreferrer) so a click never navigates the EHR away.
//
//   document.querySelector('.detail').innerHTML = renderMarkdown(card.detail);
(function (global) {
  'use strict';

  function escapeHtml(text) {
    return text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;');
  }

  // The URL as written (the input was escaped before parsing), checked for a scheme we allow.
  function safeHref(escapedUrl) {
    const raw = escapedUrl
      .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&').trim();
    if (!/^(https?:\/\/|mailto:)/i.test(raw)) return null;
    return escapeHtml(raw);
  }

  function link(href, textHtml) {
    return `<a href="${href}" target="_blank" rel="noopener noreferrer">${textHtml}</a>`;
  }

  // Inline spans of one block of already-escaped text. Code spans and links are cut out first
  // (as placeholders) so that emphasis markers inside them are left alone.
  function renderInline(escaped) {
    const held = [];
    const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
    let s = escaped.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${code}</code>`));
    s = s.replace(/\[([^\]\n]+)\]\(((?:[^()\s]|\([^()\s]*\))+)(?:\s+&quot;[^\n]*?&quot;)?\)/g, (whole, text, url) => {
      const href = safeHref(url);
      return href ? hold(link(href, emphasis(text))) : hold(emphasis(text));
    });
    s = s.replace(/&lt;((?:https?:\/\/|mailto:)[^\s&]+(?:&amp;[^\s&]+)*)&gt;/gi, (whole, url) => {
      const href = safeHref(url);
      return href ? hold(link(href, url)) : whole;
    });
    s = emphasis(s);
    return s.replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
  }

  function emphasis(s) {
    return s
      .replace(/\*\*(?=\S)([^\n]*?\S)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[^\w])__(?=\S)([^\n]*?\S)__(?=[^\w]|$)/g, '$1<strong>$2</strong>')
      .replace(/(^|[^*\w])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![*\w])/g, '$1<em>$2</em>')
      // Underscores only at word boundaries: snake_case words stay as they are.
      .replace(/(^|[^\w])_(?=[^\s_])([^_\n]*?[^\s_])_(?=[^\w]|$)/g, '$1<em>$2</em>');
  }

  const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
  const TASK = /^\[([ xX])\]\s+(.*)$/;

  function itemHtml(text) {
    const task = TASK.exec(text);
    return task
      ? `<input type="checkbox" disabled${task[1] === ' ' ? '' : ' checked'}> ${renderInline(task[2])}`
      : renderInline(text);
  }

  // Lists nest one level: an item indented by two or more spaces belongs to the item above it.
  function listHtml(list) {
    const items = list.items.map((i) => `<li>${i.html}${i.subs.map(listHtml).join('')}</li>`);
    return `<${list.tag}>${items.join('')}</${list.tag}>`;
  }

  function renderMarkdown(markdown) {
    if (typeof markdown !== 'string' || markdown === '') return '';
    const lines = escapeHtml(markdown.replace(/\r\n?/g, '\n')).split('\n');
    const out = [];
    let paragraph = [];
    let list = null;  // {tag: 'ul'|'ol', items: [{html, subs: [list]}]}

    const flushParagraph = () => {
      if (paragraph.length) out.push(`<p>${paragraph.map(renderInline).join('<br>')}</p>`);
      paragraph = [];
    };
    const flushList = () => {
      if (list) out.push(listHtml(list));
      list = null;
    };

    for (const line of lines) {
      let m;
      if (/^\s*$/.test(line)) {
        flushParagraph();
        flushList();
      } else if (RULE.test(line)) {
        flushParagraph();
        flushList();
        out.push('<hr>');
      } else if ((m = HEADING.exec(line))) {
        flushParagraph();
        flushList();
        const level = Math.min(6, m[1].length + 2);  // inside a card: never bigger than h3
        out.push(`<h${level}>${renderInline(m[2])}</h${level}>`);
      } else if ((m = LIST_ITEM.exec(line))) {
        const tag = /\d/.test(m[2]) ? 'ol' : 'ul';
        const nested = m[1].length >= 2 && list && list.items.length;
        flushParagraph();
        if (nested) {
          const parent = list.items[list.items.length - 1];
          let sub = parent.subs[parent.subs.length - 1];
          if (!sub || sub.tag !== tag) parent.subs.push((sub = { tag, items: [] }));
          sub.items.push({ html: itemHtml(m[3]), subs: [] });
        } else {
          if (list && list.tag !== tag) flushList();
          if (!list) list = { tag, items: [] };
          list.items.push({ html: itemHtml(m[3]), subs: [] });
        }
      } else if (list && /^\s{2,}\S/.test(line)) {
        // A continuation line of the last list item.
        const last = list.items[list.items.length - 1];
        last.html += `<br>${renderInline(line.trim())}`;
      } else {
        flushList();
        paragraph.push(line.trim());
      }
    }
    flushParagraph();
    flushList();
    return out.join('\n');
  }

  global.renderMarkdown = renderMarkdown;
  global.escapeHtml = escapeHtml;
})(typeof window !== 'undefined' ? window : globalThis);
