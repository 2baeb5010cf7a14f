// Live updates without hammering the API: one task at a time, the next one `interval()` ms after
// the previous ended (so a slow answer never stacks requests), nothing while the tab is hidden
// (and at once when it shows again).

/** Live views refresh this often... */
export const FAST_MS = 3000;
/** ...and views where nothing is running this often (batches created elsewhere still show up). */
export const SLOW_MS = 10000;

export function poll(task, interval) {
  let timer = null;
  let running = false;
  let again = false;
  let stopped = false;

  const run = async () => {
    timer = null;
    if (stopped || document.hidden) {
      return;
    }
    running = true;
    try {
      await task();
    } catch (e) {
      // the task shows its own errors; the next round tries again
    } finally {
      running = false;
    }
    if (stopped) {
      return;
    }
    if (again) {
      again = false;
      run();
    } else if (!document.hidden) {
      timer = setTimeout(run, interval());
    }
  };

  const visible = () => {
    if (!document.hidden && !running && timer === null && !stopped) {
      run();
    }
  };
  document.addEventListener('visibilitychange', visible);
  run();

  return {
    /** Runs the task now (after the one running, if any), then goes on at the usual pace. */
    now() {
      if (stopped) {
        return;
      }
      if (running) {
        again = true;
        return;
      }
      clearTimeout(timer);
      run();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', visible);
    },
  };
}
