"""The voice channel: Twilio calls as durable workflows.

- `accounts`: a tenant's telephony account opened for use (credentials, the right Twilio client).
- `urls`: the callback URLs handed to Twilio (each carries the call's id and its attempt token).
- `twiml`: what a call does at each step, rendered with the `twilio` package's `VoiceResponse`.
- `script`: the scripted voice agent (the tenant's prompts): the seam the AI agent replaces.
- `callbacks`: Twilio callbacks into inbox rows, and what the dispatcher does with one (row forward-only, signal).
- `placement`: placing a call effectively once.
- `capacity`: call slots (per tenant and global leases in Redis, FCFS, paced). `live`: live call state in Redis.
"""
