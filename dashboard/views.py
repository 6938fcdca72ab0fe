"""The views in groups: the tab bar holds the groups (it fits 853 px beside the sidebar), a group of several views
picks one; the link's `tab` names the open view.

Only the open view's section runs. The picks of every other view (its sequence picker, its step) are still drawn, in
a hidden container, so that their values and their place in the link survive while the view is closed.
"""

import streamlit as st

GROUPS = {  # a tab -> its views, in order; the first view of the first group is the landing view
    "Picture": ("Picture",),
    "Relations": ("Relations",),
    "Compare": ("Compare",),
    "Tensors": ("Batch", "output & h_n"),
    "Inside": ("Unrolled by hand", "Weights", "Gradients", "Trained units"),
    "Code": ("Code & downloads",),
}
VIEWS = tuple(view for views in GROUPS.values() for view in views)
GROUP_OF = {view: group for group, views in GROUPS.items() for view in views}
LANDING = VIEWS[0]


def open_group():
    """Callback: a group's tab was clicked; its view is the one last open in it (else its first)."""
    group = st.session_state.group
    st.session_state.tab = st.session_state.setdefault("last_views", {}).get(group, GROUPS[group][0])


def open_view(key: str):
    """Callback: a view was picked in its group."""
    st.session_state.tab = st.session_state[key]


def view_picker_ui(group: str) -> str:
    """A group's view picker (a group of one has none); returns the open view."""
    views, tab = GROUPS[group], st.session_state.tab
    if len(views) > 1:
        key = f"view_{group}"
        st.session_state[key] = tab
        st.segmented_control("View", views, key=key, required=True, on_change=open_view, args=(key,),
                             label_visibility="collapsed")  # fmt: skip
    st.session_state.setdefault("last_views", {})[group] = tab
    return tab


def views_ui(view, sections: dict, picks: dict):
    """The group tabs, the open view's section, every closed view's picks (hidden); the address bar names the open
    view (none: the landing view)."""
    tab = st.session_state.setdefault("tab", LANDING)
    if tab == LANDING:
        st.query_params.pop("tab", None)
    else:
        st.query_params["tab"] = tab
    st.session_state.group = GROUP_OF[tab]
    for container, group in zip(st.tabs(list(GROUPS), key="group", on_change=open_group), GROUPS, strict=True):
        if container.open:  # lazy: only the open group's tab runs (switching reruns the script)
            with container:
                sections[view_picker_ui(group)](view)
    with st.container(key="closed_picks"):  # hidden by page.css
        for label, draw in picks.items():
            if label != tab:
                draw(view)
