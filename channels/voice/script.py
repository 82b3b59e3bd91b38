"""The scripted voice agent: the tenant's prompts, one per caller utterance, then the closing.

This is the seam the AI agent takes over: `reply(script, transcript)` gets everything said so far and answers what
to say next and whether to keep listening, hand the caller to a person, or hang up.
"""

from collections.abc import Sequence

from domain.calls import VoiceScript
from workflows.call_types import TranscriptTurn, VoiceReply


def scripted_reply(
    script: VoiceScript, transcript: Sequence[TranscriptTurn], *, agent_number: str | None
) -> VoiceReply:
    said = [turn.text for turn in transcript if turn.speaker == "caller"]
    if not said:
        return VoiceReply(say=script.opening, action="listen")
    last = said[-1].lower()
    if agent_number and any(keyword.lower() in last for keyword in script.handoff_keywords):
        return VoiceReply(say="Let me connect you to a colleague.", action="handoff", handoff_number=agent_number)
    if len(said) <= len(script.prompts):
        return VoiceReply(say=script.prompts[len(said) - 1], action="listen")
    return VoiceReply(say=script.closing, action="hang_up")
