"""The webhook inbox dispatcher: handles verified webhook events behind the API's acknowledgement.

`python -m dispatcher` runs one; several may run at once (each event is claimed by one of them at a time).
"""
