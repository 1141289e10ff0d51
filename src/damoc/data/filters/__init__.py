"""Methods of this kind; each module registers one."""
