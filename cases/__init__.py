"""The case side of recordings: labels (art. 26), the case register, designations as evidence, and the
case's decision, its legal review (法制审核) and its publication (公示)."""
