// The sequence's own settings in the builder: when it ends for a lead, when it may contact them, caps and pacing.
// The API's problems with them (paths "settings.…") are listed under the fieldset.
import type { PathMessage } from "../lib/sequenceErrors";
import { EXIT_STAGES, toggle, WEEKDAYS, type SettingsDraft } from "../lib/sequenceSettings";

export function SequenceSettingsEditor({
  value,
  errors,
  onChange,
}: {
  value: SettingsDraft;
  errors: PathMessage[];
  onChange: (changed: SettingsDraft) => void;
}) {
  const set = (patch: Partial<SettingsDraft>) => onChange({ ...value, ...patch });
  return (
    <fieldset className="sequence-settings" aria-label="Sequence settings">
      <legend>Sequence settings</legend>
      <div className="row">
        <label className="inline">
          <input
            type="checkbox"
            checked={value.exitOnReply}
            onChange={(e) => set({ exitOnReply: e.target.checked })}
          />
          End when the lead replies
        </label>
      </div>
      <div className="row" role="group" aria-label="End when the lead reaches">
        <span>End when the lead reaches:</span>
        {EXIT_STAGES.map((stage) => (
          <label key={stage} className="inline">
            <input
              type="checkbox"
              checked={value.exitOnStages.includes(stage)}
              onChange={(e) => set({ exitOnStages: toggle(value.exitOnStages, stage, e.target.checked) })}
            />
            {stage}
          </label>
        ))}
      </div>
      <div className="row" role="group" aria-label="Business days">
        <span>Business hours (the lead's time):</span>
        {WEEKDAYS.map((day) => (
          <label key={day} className="inline">
            <input
              type="checkbox"
              checked={value.days.includes(day)}
              onChange={(e) => set({ days: toggle(value.days, day, e.target.checked) })}
            />
            {day}
          </label>
        ))}
        <label>
          From
          <input type="time" value={value.start} onChange={(e) => set({ start: e.target.value })} required />
        </label>
        <label>
          Until
          <input type="time" value={value.end} onChange={(e) => set({ end: e.target.value })} required />
        </label>
      </div>
      <div className="row">
        <label>
          Time zone when the phone does not tell
          <input
            value={value.fallbackTimezone}
            onChange={(e) => set({ fallbackTimezone: e.target.value })}
            placeholder="the tenant's"
          />
        </label>
        <label>
          WhatsApp sends per day (tenant-wide cap)
          <input
            type="number"
            min={1}
            value={value.dailyCap}
            onChange={(e) => set({ dailyCap: e.target.value })}
            placeholder="no cap"
          />
        </label>
        <label>
          Enrollments started per minute
          <input
            type="number"
            min={1}
            value={value.perMinute}
            onChange={(e) => set({ perMinute: e.target.value })}
            placeholder="no pacing"
          />
        </label>
      </div>
      {errors.length > 0 && (
        <ul className="step-errors" aria-label="Problems with the settings">
          {errors.map((e) => (
            <li key={`${e.path}:${e.message}`}>
              <code>{e.path}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}
