// The sequence's own settings in the builder: when it ends for a lead, when it may contact them, caps and pacing.
// The API's problems with them (paths "settings.…") are listed under the fieldset.
import type { PathMessage } from "../lib/sequenceErrors";
import { EXIT_STAGES, toggle, WEEKDAYS, type SettingsDraft } from "../lib/sequenceSettings";
import { Checkbox, Field } from "./Form";
import { PathMessages } from "./PathMessages";

/** The numbers a sequence may be held to; blank is no limit. */
const LIMITS = [
  { field: "dailyCap", label: "WhatsApp sends per day (tenant-wide cap)", placeholder: "no cap" },
  { field: "perMinute", label: "Enrollments started per minute", placeholder: "no pacing" },
] as const;

/** One checkbox an item, checked when `chosen` has it. */
function Toggles<T extends string>({
  items,
  chosen,
  onChange,
}: {
  items: readonly T[];
  chosen: readonly T[];
  onChange: (chosen: T[]) => void;
}) {
  return items.map((item) => (
    <Checkbox key={item} label={item} checked={chosen.includes(item)} onChange={(on) => onChange(toggle(chosen, item, on))} />
  ));
}

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
        <Toggles items={EXIT_STAGES} chosen={value.exitOnStages} onChange={(exitOnStages) => set({ exitOnStages })} />
      </div>
      <div className="row" role="group" aria-label="Business days">
        <span>Business hours (the lead's time):</span>
        <Toggles items={WEEKDAYS} chosen={value.days} onChange={(days) => set({ days })} />
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
        {LIMITS.map(({ field, label, placeholder }) => (
          <Field
            key={field}
            label={label}
            type="number"
            min={1}
            value={value[field]}
            onChange={(limit) => set({ [field]: limit })}
            placeholder={placeholder}
          />
        ))}
      </div>
      {errors.length > 0 && (
        <PathMessages className="step-errors" aria-label="Problems with the settings" errors={errors} />
      )}
    </fieldset>
  );
}
