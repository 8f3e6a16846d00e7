/** The recent-calls list: one button per call, click to call back. */
import { formatDuration } from '../common/target.ts';
import { byId } from './dom.ts';
import { whenLabel, type CallRecord } from './history.ts';

const OUTCOME_TEXT: Record<CallRecord['outcome'], string> = {
  answered: '',
  missed: 'Missed',
  rejected: 'Rejected',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export class RecentView {
  readonly #list = byId('recent-list', HTMLUListElement);
  readonly #empty = byId('recent-empty', HTMLParagraphElement);
  readonly #clear = byId('clear-recent', HTMLButtonElement);

  constructor(onRedial: (target: string) => void, onClear: () => void) {
    this.#list.addEventListener('click', (event) => {
      const button = (event.target as Element | null)?.closest<HTMLButtonElement>('button[data-target]');
      const target = button?.dataset['target'];
      if (target) onRedial(target);
    });
    this.#clear.addEventListener('click', onClear);
  }

  render(records: readonly CallRecord[], now = Date.now()): void {
    this.#empty.hidden = records.length > 0;
    this.#clear.hidden = records.length === 0;
    this.#list.replaceChildren(...records.map((record) => item(record, now)));
  }
}

function item(record: CallRecord, now: number): HTMLLIElement {
  const li = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'recent-item';
  button.dataset['target'] = record.target;
  button.dataset['outcome'] = record.outcome;
  button.setAttribute('aria-label', `Redial ${record.peer}`);
  const direction = record.direction === 'incoming' ? 'Incoming' : 'Outgoing';
  const outcome = OUTCOME_TEXT[record.outcome];
  const meta = [outcome || direction, record.outcome === 'answered' ? formatDuration(record.durationSec) : record.detail ?? '']
    .filter(Boolean)
    .join(' · ');
  button.title = `${direction} call ${record.peer}${record.detail ? ` — ${record.detail}` : ''}`;
  button.innerHTML =
    `<span class="recent-icon" aria-hidden="true"><svg class="icon"><use href="#${record.direction === 'incoming' ? 'i-in' : 'i-out'}"/></svg></span>` +
    `<span class="recent-main"><span class="recent-peer"></span><span class="recent-meta"></span></span>` +
    `<span class="recent-when"></span>`;
  button.querySelector('.recent-peer')!.textContent = record.peer;
  button.querySelector('.recent-meta')!.textContent = meta;
  button.querySelector('.recent-when')!.textContent = whenLabel(record.startedAt, now);
  li.append(button);
  return li;
}
