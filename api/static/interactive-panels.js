/*
 * pvideo interactive player: the panel of each interaction type, as DOM (interactive.js
 * decides when they show and sends the answers). Every text from the data goes in with
 * textContent or an attribute, never innerHTML; no inline styles (interactive.css).
 *
 * A panel is a dialog (role="dialog", aria-modal="true" when it pauses the video,
 * aria-labelledby its question) that takes focus itself (tabindex=-1) so a screen reader reads
 * the question first; Tab reaches its controls in order:
 *   poll    radio buttons (checkboxes when multiple) and Send      -> {choices: [ids]}
 *   nps     eleven buttons 0..10, each one answers                 -> {score: n}
 *   rating  a radio group of stars and Send                        -> {stars: n}
 *   form    labelled fields, the consent box and the submit button -> {fields: {..}, consent}
 *   gate    the same, holding the video until it is answered
 *   choice  one button per path (and a countdown to the default)   -> pick(section)
 *   calendar a link to the booking page (new tab)                  -> opened()
 * and a visible Skip button when the interaction is skippable.
 *
 * Global: window.pvideoPanels = {build, title, optionLabel, countdown, busy, error,
 * fullscreenButton}.
 */
(function () {
  'use strict';

  var INPUT_TYPES = { email: 'email', phone: 'tel', number: 'number', date: 'date', text: 'text' };
  var AUTOCOMPLETE = { email: 'email', phone: 'tel' };

  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) {
      if (Object.prototype.hasOwnProperty.call(attrs, name)) {
        var value = attrs[name];
        if (value === true) {
          node.setAttribute(name, '');
        } else if (value !== null && value !== undefined && value !== false) {
          node.setAttribute(name, String(value));
        }
      }
    }
    (kids || []).forEach(function (kid) {
      if (kid !== null && kid !== undefined) {
        node.appendChild(typeof kid === 'string' ? document.createTextNode(kid) : kid);
      }
    });
    return node;
  }

  function title(item) {
    return String(item.question || item.title || item.label || '');
  }

  function optionLabel(item, section) {
    var options = item.options || [];
    for (var i = 0; i < options.length; i++) {
      if (options[i].section === section) {
        return String(options[i].label);
      }
    }
    return '';
  }

  function button(text, cls, attrs) {
    var b = el('button', attrs || {}, [text]);
    b.type = (attrs && attrs.type) || 'button';
    b.className = 'pvideo-q-button' + (cls ? ' ' + cls : '');
    return b;
  }

  // ---- one builder per type: (item, ids, on) -> {body: [nodes], submit: button | null} ----

  function poll(item, ids, on) {
    var kind = item.multiple ? 'checkbox' : 'radio';
    var group = el('div', { 'class': 'pvideo-q-options', role: 'group', 'aria-labelledby': ids.title });
    (item.choices || []).forEach(function (c) {
      group.appendChild(el('label', { 'class': 'pvideo-q-option' }, [
        el('input', { type: kind, name: ids.base, value: c.id }),
        el('span', {}, [String(c.label)])
      ]));
    });
    return {
      body: [group],
      submit: button('Send', 'is-primary', { type: 'submit' }),
      collect: function (form) {
        var picked = [];
        var boxes = form.querySelectorAll('input[name="' + ids.base + '"]');
        for (var i = 0; i < boxes.length; i++) {
          if (boxes[i].checked) {
            picked.push(boxes[i].value);
          }
        }
        return picked.length ? { choices: picked } : { error: item.multiple ? 'Choose at least one answer.' : 'Choose an answer.' };
      }
    };
  }

  function nps(item, ids, on) {
    var scale = el('div', { 'class': 'pvideo-q-scale', role: 'group', 'aria-labelledby': ids.title, 'aria-describedby': ids.base + '-ends' });
    for (var n = 0; n <= 10; n++) {
      var b = button(String(n), 'pvideo-q-score');
      b.setAttribute('data-score', String(n));
      b.addEventListener('click', function (e) {
        on.answer({ score: Number(e.currentTarget.getAttribute('data-score')) });
      });
      scale.appendChild(b);
    }
    var ends = el('p', { 'class': 'pvideo-q-ends', id: ids.base + '-ends' }, [
      el('span', {}, ['0: ' + String(item.low_label || 'Not at all likely')]),
      el('span', {}, ['10: ' + String(item.high_label || 'Extremely likely')])
    ]);
    return { body: [scale, ends], submit: null };
  }

  function rating(item, ids, on) {
    var stars = Number(item.stars) || 5;
    var group = el('div', { 'class': 'pvideo-q-stars', role: 'radiogroup', 'aria-labelledby': ids.title });
    var labels = [];
    for (var n = 1; n <= stars; n++) {
      var label = el('label', { 'class': 'pvideo-q-star' }, [
        el('input', { type: 'radio', name: ids.base, value: String(n), 'class': 'pvideo-q-star-input' }),
        el('span', { 'aria-hidden': 'true', 'class': 'pvideo-q-star-icon' }, ['★']),
        el('span', { 'class': 'pvideo-sr-only' }, [n + (n === 1 ? ' star' : ' stars')])
      ]);
      labels.push(label);
      group.appendChild(label);
    }
    group.addEventListener('change', function (e) {
      var chosen = Number(e.target.value);
      labels.forEach(function (l, i) { l.classList.toggle('is-on', i < chosen); });
    });
    return {
      body: [group],
      submit: button('Send', 'is-primary', { type: 'submit' }),
      collect: function (form) {
        var checked = form.querySelector('input[name="' + ids.base + '"]:checked');
        return checked ? { stars: Number(checked.value) } : { error: 'Choose a number of stars.' };
      }
    };
  }

  function field(f, ids) {
    var id = ids.base + '-' + f.name;
    var input;
    if (f.type === 'choice') {
      input = el('select', { id: id, name: f.name, required: !!f.required }, [el('option', { value: '' }, ['Choose…'])]);
      (f.choices || []).forEach(function (c) {
        input.appendChild(el('option', { value: c.id }, [String(c.label)]));
      });
    } else {
      var textual = f.type === 'email' || f.type === 'phone' || f.type === 'text' || !f.type;
      input = el('input', {
        id: id,
        name: f.name,
        type: INPUT_TYPES[f.type] || 'text',
        autocomplete: AUTOCOMPLETE[f.type] || null,
        maxlength: textual && f.max_length ? f.max_length : null,
        step: f.type === 'number' ? 'any' : null,
        min: f.type === 'number' && f.min !== undefined ? f.min : null,
        max: f.type === 'number' && f.max !== undefined ? f.max : null,
        required: !!f.required
      });
    }
    if (f.value !== undefined && f.value !== null) {
      input.value = String(f.value);
    }
    var label = el('label', { 'for': id }, [String(f.label)]);
    if (f.required) {
      label.appendChild(el('span', { 'class': 'pvideo-q-required', 'aria-hidden': 'true' }, [' *']));
    }
    return el('p', { 'class': 'pvideo-q-field' }, [label, input]);
  }

  function form(item, ids, on) {
    var body = (item.fields || []).map(function (f) { return field(f, ids); });
    var consent = item.consent;
    if (consent) {
      body.push(el('p', { 'class': 'pvideo-q-consent' }, [
        el('input', { type: 'checkbox', id: ids.base + '-consent', name: 'consent', required: !!consent.required }),
        el('label', { 'for': ids.base + '-consent' }, [String(consent.text)])
      ]));
    }
    return {
      body: body,
      submit: button(String(item.submit_label || 'Send'), 'is-primary', { type: 'submit' }),
      collect: function (formEl) {
        if (!formEl.checkValidity()) {
          formEl.reportValidity();
          return null;
        }
        var fields = {};
        (item.fields || []).forEach(function (f) {
          var input = formEl.elements.namedItem(f.name);
          var value = input ? String(input.value) : '';
          if (f.type !== 'text') {
            value = value.trim();
          }
          if (value !== '') {
            fields[f.name] = f.type === 'number' ? Number(value) : value;
          }
        });
        var out = { fields: fields };
        if (consent) {
          out.consent = !!formEl.elements.namedItem('consent').checked;
        }
        return out;
      }
    };
  }

  function choice(item, ids, on) {
    var group = el('div', { 'class': 'pvideo-q-paths', role: 'group', 'aria-labelledby': ids.title });
    (item.options || []).forEach(function (o) {
      var b = button(String(o.label), 'is-primary pvideo-q-path');
      b.setAttribute('data-section', o.section);
      b.addEventListener('click', function () { on.pick(o.section); });
      group.appendChild(b);
    });
    return { body: [group, el('p', { 'class': 'pvideo-q-countdown', 'aria-hidden': 'true' })], submit: null };
  }

  function calendar(item, ids, on) {
    var body = [];
    if (item.slot) {
      body.push(el('p', { 'class': 'pvideo-q-slot' }, [String(item.slot)]));
    }
    var href = String(item.href || '');
    if (/^https?:\/\//i.test(href)) {  // the server checked it already; never another scheme
      var link = el('a', { 'class': 'pvideo-q-button is-primary', href: href, target: '_blank', rel: 'noopener' },
        ['Open the booking page']);
      link.addEventListener('click', function () { on.opened(); });
      body.push(link);
    }
    return { body: body, submit: null };
  }

  var BUILDERS = { poll: poll, nps: nps, rating: rating, form: form, gate: form, choice: choice, calendar: calendar };

  // The panel of `item`: a dialog, with its controls wired to on.answer / pick / skip / opened.
  function build(item, on) {
    var ids = { base: 'pvideo-q-' + item.id };
    ids.title = ids.base + '-title';
    var parts = (BUILDERS[item.type] || calendar)(item, ids, on);
    var heading = el('h2', { 'class': 'pvideo-q-title', id: ids.title }, [title(item)]);
    var error = el('p', { 'class': 'pvideo-q-error', role: 'alert' });
    var actions = el('div', { 'class': 'pvideo-q-actions' }, [parts.submit]);
    if (item.skippable) {
      var skip = button('Skip', 'pvideo-q-skip');
      skip.addEventListener('click', function () { on.skip(); });
      actions.appendChild(skip);
    }
    var content;
    if (parts.submit) {
      content = el('form', { 'class': 'pvideo-q-form', novalidate: true }, parts.body.concat([error, actions]));
      content.addEventListener('submit', function (e) {
        e.preventDefault();
        var value = parts.collect(content);
        if (value && value.error) {
          setError(panel, value.error);
        } else if (value) {
          on.answer(value);
        }
      });
    } else {
      content = el('div', { 'class': 'pvideo-q-form' }, parts.body.concat([error, actions]));
    }
    var panel = el('div', {
      'class': 'pvideo-q pvideo-q-' + item.type + (on.modal ? ' is-modal' : ''),
      id: ids.base,
      role: 'dialog',
      'aria-modal': on.modal ? 'true' : null,
      'aria-labelledby': ids.title,
      tabindex: '-1',
      'data-interaction-id': item.id
    }, [heading, content]);
    var engaged = function () { on.engaged(); };
    panel.addEventListener('keydown', engaged);
    panel.addEventListener('pointerdown', engaged);
    return panel;
  }

  function setError(panel, text) {
    var node = panel.querySelector('.pvideo-q-error');
    if (node) {
      node.textContent = text || '';
    }
  }

  // While an answer is on its way: marked busy (interactive.js ignores clicks meanwhile); the
  // controls stay enabled so the focus stays where it is.
  function busy(panel, on) {
    panel.setAttribute('aria-busy', on ? 'true' : 'false');
    panel.classList.toggle('is-busy', !!on);
  }

  function countdown(panel, text) {
    var node = panel.querySelector('.pvideo-q-countdown');
    if (node) {
      node.textContent = text;
    }
  }

  function fullscreenButton() {
    var b = button('', 'pvideo-fs', { 'aria-label': 'Full screen', 'aria-pressed': 'false' });
    b.appendChild(el('span', { 'class': 'pvideo-fs-icon', 'aria-hidden': 'true' }));
    return b;
  }

  window.pvideoPanels = {
    build: build,
    title: title,
    optionLabel: optionLabel,
    countdown: countdown,
    busy: busy,
    error: setError,
    fullscreenButton: fullscreenButton
  };
})();
