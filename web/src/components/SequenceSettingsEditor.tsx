// The sequence's own settings in the builder: when it ends for a lead, when it may contact them, caps and pacing.
// The API's problems with them (paths "settings.…") are listed under the fieldset.
import type { PathMessage } from "../lib/sequenceErrors";
import { EXIT_STAGES, toggle, WEEKDAYS, type SettingsDraft } from "../lib/sequenceSettings";
import { Checkbox, Field } from "./Form";
import { PathMessages } from "./PathMessages";

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
        <Checkbox
          label="End when the lead replies"
          checked={value.exitOnReply}
          onChange={(on) => set({ exitOnReply: on })}
        />
      </div>
      <div className="row" role="group" aria-label="End when the lead reaches">
        <span>End when the lead reaches:</span>
        {EXIT_STAGES.map((stage) => (
          <Checkbox
            key={stage}
            label={stage}
            checked={value.exitOnStages.includes(stage)}
            onChange={(on) => set({ exitOnStages: toggle(value.exitOnStages, stage, on) })}
          />
        ))}
      </div>
      <div className="row" role="group" aria-label="Business days">
        <span>Business hours (the lead's time):</span>
        {WEEKDAYS.map((day) => (
          <Checkbox
            key={day}
            label={day}
            checked={value.days.includes(day)}
            onChange={(on) => set({ days: toggle(value.days, day, on) })}
          />
        ))}
        <Field label="From" type="time" value={value.start} onChange={(start) => set({ start })} required />
        <Field label="Until" type="time" value={value.end} onChange={(end) => set({ end })} required />
      </div>
      <div className="row">
        <Field
          label="Time zone when the phone does not tell"
          value={value.fallbackTimezone}
          onChange={(fallbackTimezone) => set({ fallbackTimezone })}
          placeholder="the tenant's"
        />
        <Field
          label="WhatsApp sends per day (tenant-wide cap)"
          type="number"
          min={1}
          value={value.dailyCap}
          onChange={(dailyCap) => set({ dailyCap })}
          placeholder="no cap"
        />
        <Field
          label="Enrollments started per minute"
          type="number"
          min={1}
          value={value.perMinute}
          onChange={(perMinute) => set({ perMinute })}
          placeholder="no pacing"
        />
      </div>
      {errors.length > 0 && (
        <PathMessages className="step-errors" aria-label="Problems with the settings" errors={errors} />
      )}
    </fieldset>
  );
}
