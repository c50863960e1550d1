"""Derived files: playback proxies and redacted copies, made from an original that never changes.

Art. 28 (第二十八条) forbids editing or clipping an original; art. 29
(第二十九条) gives the party concerned their recordings without third
parties. Both are met by a *derived* file: made from one original by a
recorded, repeatable ffmpeg command, stored under its own key, retained no
longer than its original, and bound to it by a DERIVED log entry (original
hash, derived hash, ffmpeg version and arguments, the redaction spec, who asked
and who approved).

* ``playable``  which recordings a browser cannot play (pure)
* ``spec``      a redaction: time ranges to mute or bleep, boxes to blur (pure)
* ``recipes``   the ffmpeg arguments of a proxy, a redacted copy, a preview frame (pure)
* ``ffmpeg``    running ffmpeg at low priority, with progress and a stop
* ``making``    read the original, run the recipe, store, lock, read back, log
* ``proxies``   the background job that gives unplayable recordings a proxy
* ``redaction`` the two-person workflow: draft, preview, submit, approve, render

Nothing here is on the ingest path (``ingest`` never imports this package).
"""
