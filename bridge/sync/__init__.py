"""The library sync: each media server's library and the Simkl account's kept in step, driven by
Simkl's `/sync/activities` and `date_from` as its Sync guide prescribes."""
