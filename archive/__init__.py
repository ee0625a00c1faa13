"""The electronic accounting archive (会计档案管理办法, DA/T 94-2022, DA/T 70-2018).

* ``archive.package``   — one posted voucher becomes one package (件): originals, voucher and
  claims as XML and PDF, verification reports, ``metadata.xml``, a manifest signed with the
  organisation's SM2 archive key (``archive.signing``), a gap-free 档号 (``archive.codes``).
* ``archive.check``     — the four-property check (四性检测) of a package, a year or a received copy.
* ``archive.export``    — the year-end BagIt export with its 移交清册, and ``verify_export``.
* ``archive.retention`` — retention periods, appraisal, destruction with five sign-offs.
* ``archive.store``     — the tables; the content lives in the write-once store under
  ``settings.archive_dir``.
"""
