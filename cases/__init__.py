"""The case side of recordings: labels (art. 26), the case register, designations as evidence."""
