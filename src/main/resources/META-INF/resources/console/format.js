// How numbers, times and sizes read on screen.

const integer = new Intl.NumberFormat('en');
const oneDecimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

export function count(n) {
  return integer.format(n || 0);
}

/** Lines per second: one decimal below 100, whole numbers above. */
export function rate(perSecond) {
  if (perSecond === null || perSecond === undefined) {
    return '—';
  }
  return `${perSecond < 100 ? oneDecimal.format(perSecond) : integer.format(Math.round(perSecond))} lines/s`;
}

/** A span of seconds as its two largest units: "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '—';
  }
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const units = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];
  const parts = [];
  for (const [name, size] of units) {
    if (s >= size || parts.length > 0) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(n > 0 ? `${n} ${name}` : null);
      if (parts.length === 2) {
        break;
      }
    }
  }
  return parts.filter(Boolean).join(' ');
}

function pad(n) {
  return String(n).padStart(2, '0');
}

/** Unix seconds as local date and time, "2026-11-29 14:05:09". */
export function dateTime(unixSeconds) {
  if (!unixSeconds) {
    return '—';
  }
  const d = new Date(unixSeconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Unix seconds as an ISO string, for <time datetime>. */
export function iso(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString();
}

export function bytes(n) {
  if (n === null || n === undefined) {
    return '—';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v} B` : `${oneDecimal.format(v)} ${units[i]}`;
}

/** The status as people say it: "in progress". */
export function status(s) {
  return (s || '').replace('_', ' ');
}

/** US dollars: cents from a dollar up, and up to six decimals below (batch work is cheap per day). */
export function money(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) {
    return '—';
  }
  const v = Number(value);
  const small = v !== 0 && Math.abs(v) < 1;
  return new Intl.NumberFormat('en', {
    style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: small ? 6 : 2,
  }).format(v);
}

/** A number as it comes: whole numbers with separators, fractions with up to four decimals. */
export function number(value) {
  if (value === null || value === undefined) {
    return '—';
  }
  return Number.isInteger(value) ? integer.format(value) : new Intl.NumberFormat('en', { maximumFractionDigits: 4 }).format(value);
}

/** Unix seconds as the UTC day they fall in, "2026-11-29" (usage is counted in UTC days). */
export function utcDay(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 10);
}
