"""Evidence to disc (art. 27 第二十七条): self-verifying ISO 9660 images of recordings.

    layout      pure: media sizes, readable file names, which recording goes on which disc
    sheets      pure: MANIFEST.json, SHA256SUMS, the label sheet (LABEL.html/.txt), README.txt
    evidence    the log evidence: entries, inclusion and consistency proofs, checkpoint
    image       the ISO 9660 + Joliet + Rock Ridge image, streamed (pycdlib)
    burn        xorriso: find a drive, burn, read back
    job         the export itself: gate, EXPORT entries, checkpoint, images, EXPORT_SEALED
    verify_disc VERIFY.py, the standard-library-only verifier copied onto every disc

See docs/export.md.
"""
