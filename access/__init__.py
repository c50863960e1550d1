"""Who may read what: people and roles, requests and approvals, art. 29 disclosure, the gate, the audit trail."""
