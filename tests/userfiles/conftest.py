"""The user files here are inputs of the tests, written as a student would: not tests themselves.

pytest must not import them (with --doctest-modules it would, as top-level
`cs231n`, before gradcheck loads them the way a user's run would).
"""

collect_ignore_glob = ["cs231n/*"]
