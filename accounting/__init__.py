"""Claims, approvals, ledger vouchers and posting (入账): the accounting half of the service.

``accounting.claims`` (报销单 and their sign-off), ``accounting.ledger`` (记账凭证, posting,
红字冲销), ``accounting.chart`` / ``accounting.mapping`` (chart of accounts and the category →
account mapping, both CSV files), ``accounting.excel`` (journal export, voucher import).
Importing ``accounting.ledger`` registers the invoice usage look-up with the registry.
"""
