// The gallery: every image in the history as a grid (GalleryModel), over
// the chat. A search field (prompt text), favourites, a model filter and
// the sort order on top; a star and a delete button on each image; a bar
// that undoes a delete. A click selects, a double-click (or Enter) opens
// the image with its actions (GalleryDetail). Keyboard: arrows move,
// Enter opens, Delete deletes, F stars, Ctrl+F searches, Ctrl+Z undoes,
// Esc goes back to the chat. Presentation only: it binds to GalleryModel
// and calls ChatController's result actions with the entry's id.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Daub.App

FocusScope {
    id: root

    /// Back to the chat (the back button, Esc).
    signal closeRequested()
    /// Save as… (Main's file dialog).
    signal saveAsRequested(int jobId)
    /// The history's settings (disk usage, delete all but favourites).
    signal settingsRequested()
    /// The image at full size (Main's ImageViewer).
    signal viewRequested(string source, int width, int height)
    /// A short confirmation for the window's toast.
    signal notify(string text)

    readonly property alias grid: grid
    readonly property alias detail: detail
    readonly property alias searchField: searchField
    /// The side a cell aims at; columns stretch to fill the width.
    property int cellSize: 200

    function focusSearch() {
        searchField.forceActiveFocus()
        searchField.selectAll()
    }
    function openRow(row) {
        if (row < 0 || row >= grid.count)
            return
        grid.currentIndex = row
        detail.show(row)
    }
    function clearFilters() {
        searchField.text = ""
        searchTimer.stop()
        GalleryModel.searchText = ""
        GalleryModel.favouritesOnly = false
        GalleryModel.model = ""
    }
    function toggleFavourite(row) {
        const e = GalleryModel.get(row)
        if (e.entryId !== undefined)
            GalleryModel.setFavourite(e.entryId, !e.favourite)
    }
    function removeRow(row) {
        const e = GalleryModel.get(row)
        if (e.entryId !== undefined)
            GalleryModel.remove(e.entryId)
    }

    onVisibleChanged: {
        if (visible) {
            GalleryModel.refresh()
            grid.forceActiveFocus()
        } else {
            detail.close()
        }
    }

    // Ctrl+F searches, Ctrl+Z undoes a delete, Esc goes back (the detail,
    // a modal popup, takes its own Esc first).
    Shortcut {
        sequences: [StandardKey.Find]
        enabled: root.visible
        onActivated: root.focusSearch()
    }
    Shortcut {
        sequences: [StandardKey.Undo]
        enabled: root.visible && GalleryModel.canUndo && !searchField.activeFocus
        onActivated: GalleryModel.undo()
    }
    Shortcut {
        sequence: "Esc"
        enabled: root.visible && !detail.opened
        onActivated: root.closeRequested()
    }

    Rectangle {
        anchors.fill: parent
        color: Theme.window
    }
    // Clicks and the wheel stay in the gallery (the chat is underneath).
    MouseArea {
        anchors.fill: parent
        acceptedButtons: Qt.AllButtons
        onWheel: (wheel) => wheel.accepted = true
    }

    component HeaderButton: ToolButton {
        icon.width: 16
        icon.height: 16
        icon.color: checked ? Theme.accent : Theme.mutedText
        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
        ToolTip.visible: hovered && ToolTip.text !== ""
        ToolTip.delay: 500
    }

    // A round button over an image (star, delete).
    component CellButton: ToolButton {
        property bool starred: false
        implicitWidth: 30
        implicitHeight: 30
        padding: 7
        icon.width: 16
        icon.height: 16
        icon.color: starred ? "#f5c542" : "#ffffff"
        background: Rectangle {
            radius: width / 2
            color: Qt.rgba(0, 0, 0, parent.hovered ? 0.68 : 0.45)
        }
        ToolTip.visible: hovered
        ToolTip.delay: 500
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        Rectangle {
            Layout.fillWidth: true
            Layout.preferredHeight: 52
            color: Theme.panel
            Rectangle { anchors.bottom: parent.bottom; width: parent.width; height: 1; color: Theme.border }

            RowLayout {
                anchors.fill: parent
                anchors.leftMargin: 8
                anchors.rightMargin: 12
                spacing: 6

                HeaderButton {
                    objectName: "galleryBack"
                    icon.source: "qrc:/daub/icons/chevron-right.svg"
                    icon.color: Theme.mutedText
                    rotation: 180
                    onClicked: root.closeRequested()
                    ToolTip.text: qsTr("Back to the chat (Esc)")
                }
                Label {
                    text: qsTr("Gallery")
                    font.pixelSize: 17
                    font.weight: Font.DemiBold
                    color: Theme.text
                }
                Label {
                    objectName: "galleryCount"
                    Layout.leftMargin: 4
                    text: GalleryModel.count === GalleryModel.totalCount
                          ? qsTr("%1 images").arg(GalleryModel.totalCount)
                          : qsTr("%1 of %2").arg(GalleryModel.count).arg(GalleryModel.totalCount)
                    color: Theme.mutedText
                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                }
                Item { Layout.fillWidth: true }

                TextField {
                    id: searchField
                    objectName: "gallerySearch"
                    Layout.preferredWidth: 260
                    placeholderText: qsTr("Search prompts")
                    leftPadding: 30
                    selectByMouse: true
                    Component.onCompleted: text = GalleryModel.searchText
                    onTextEdited: searchTimer.restart()
                    Keys.onReturnPressed: {
                        searchTimer.stop()
                        GalleryModel.searchText = text
                        grid.forceActiveFocus()
                    }
                    Keys.onDownPressed: grid.forceActiveFocus()
                    Image {
                        anchors.left: parent.left
                        anchors.leftMargin: 8
                        anchors.verticalCenter: parent.verticalCenter
                        source: "qrc:/daub/icons/search.svg"
                        sourceSize: Qt.size(16, 16)
                        opacity: 0.5
                    }
                    // Typing waits for a pause before it asks the history.
                    Timer {
                        id: searchTimer
                        interval: 250
                        onTriggered: GalleryModel.searchText = searchField.text
                    }
                }
                HeaderButton {
                    objectName: "galleryFavourites"
                    text: qsTr("Favourites")
                    checkable: true
                    checked: GalleryModel.favouritesOnly
                    icon.source: checked ? "qrc:/daub/icons/star-filled.svg" : "qrc:/daub/icons/star.svg"
                    onToggled: GalleryModel.favouritesOnly = checked
                    ToolTip.text: qsTr("Show favourites only")
                }
                ComboBox {
                    id: modelFilter
                    objectName: "galleryModelFilter"
                    Layout.preferredWidth: 170
                    model: [qsTr("All models")].concat(GalleryModel.models)
                    currentIndex: GalleryModel.model === "" ? 0 : GalleryModel.models.indexOf(GalleryModel.model) + 1
                    onActivated: (index) => GalleryModel.model = index === 0 ? "" : GalleryModel.models[index - 1]
                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                }
                HeaderButton {
                    objectName: "gallerySort"
                    text: GalleryModel.newestFirst ? qsTr("Newest first") : qsTr("Oldest first")
                    icon.source: "qrc:/daub/icons/chevron-down.svg"
                    icon.color: Theme.mutedText
                    onClicked: GalleryModel.newestFirst = !GalleryModel.newestFirst
                    ToolTip.text: qsTr("Sort by date")
                }
                HeaderButton {
                    objectName: "galleryStorage"
                    text: GalleryModel.diskUsageText
                    icon.source: "qrc:/daub/icons/settings.svg"
                    icon.color: Theme.mutedText
                    onClicked: root.settingsRequested()
                    ToolTip.text: qsTr("The history on disk")
                }
            }
        }

        Item {
            Layout.fillWidth: true
            Layout.fillHeight: true

            GridView {
                id: grid
                objectName: "galleryGrid"
                anchors.fill: parent
                anchors.leftMargin: 10
                anchors.topMargin: 10
                readonly property int columns: Math.max(1, Math.floor(width / root.cellSize))
                cellWidth: Math.floor(width / columns)
                cellHeight: cellWidth
                model: GalleryModel
                clip: true
                focus: true
                keyNavigationEnabled: true
                boundsBehavior: Flickable.StopAtBounds
                cacheBuffer: cellHeight * 2
                currentIndex: -1
                ScrollBar.vertical: ScrollBar {}

                Keys.onPressed: (event) => {
                    if (event.key === Qt.Key_Delete || event.key === Qt.Key_Backspace) {
                        root.removeRow(currentIndex)
                        event.accepted = true
                    } else if (event.key === Qt.Key_Return || event.key === Qt.Key_Enter
                               || event.key === Qt.Key_Space) {
                        root.openRow(currentIndex < 0 ? 0 : currentIndex)
                        event.accepted = true
                    } else if (event.key === Qt.Key_F && event.modifiers === Qt.NoModifier) {
                        root.toggleFavourite(currentIndex)
                        event.accepted = true
                    }
                }
                // The arrows start at the first image when none is selected.
                Keys.onUpPressed: (event) => { if (currentIndex < 0) currentIndex = 0; else event.accepted = false }
                Keys.onDownPressed: (event) => { if (currentIndex < 0) currentIndex = 0; else event.accepted = false }
                Keys.onLeftPressed: (event) => { if (currentIndex < 0) currentIndex = 0; else event.accepted = false }
                Keys.onRightPressed: (event) => { if (currentIndex < 0) currentIndex = 0; else event.accepted = false }

                delegate: Item {
                    id: cell
                    objectName: "galleryCell"
                    required property int index
                    required property string imageSource
                    required property string prompt
                    required property bool favourite
                    readonly property bool selected: GridView.isCurrentItem
                    readonly property bool showControls: hover.hovered || selected
                    width: grid.cellWidth
                    height: grid.cellHeight

                    HoverHandler { id: hover }

                    Rectangle {
                        id: tile
                        anchors.fill: parent
                        anchors.rightMargin: 10
                        anchors.bottomMargin: 10
                        radius: Theme.smallRadius
                        color: Theme.sunken
                        clip: true

                        Image {
                            id: thumb
                            objectName: "galleryThumb"
                            anchors.fill: parent
                            source: cell.imageSource
                            // One size for every cell: cached once, shared on scroll.
                            sourceSize: Qt.size(384, 384)
                            asynchronous: true
                            fillMode: Image.PreserveAspectCrop
                            smooth: true
                        }
                        Image {
                            anchors.centerIn: parent
                            visible: thumb.status !== Image.Ready
                            source: "qrc:/daub/icons/image.svg"
                            sourceSize: Qt.size(28, 28)
                            opacity: 0.35
                        }
                        // The prompt over a shade, when pointed at or selected.
                        Rectangle {
                            anchors.left: parent.left
                            anchors.right: parent.right
                            anchors.bottom: parent.bottom
                            height: 46
                            visible: cell.showControls
                            gradient: Gradient {
                                GradientStop { position: 0; color: "transparent" }
                                GradientStop { position: 1; color: Qt.rgba(0, 0, 0, 0.72) }
                            }
                            Label {
                                anchors.left: parent.left
                                anchors.right: parent.right
                                anchors.bottom: parent.bottom
                                anchors.margins: 8
                                text: cell.prompt
                                elide: Text.ElideRight
                                color: "#ffffff"
                                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                            }
                        }
                        MouseArea {
                            anchors.fill: parent
                            acceptedButtons: Qt.LeftButton
                            onClicked: {
                                grid.currentIndex = cell.index
                                grid.forceActiveFocus()
                            }
                            onDoubleClicked: root.openRow(cell.index)
                        }
                        CellButton {
                            objectName: "galleryStar"
                            anchors.top: parent.top
                            anchors.right: parent.right
                            anchors.margins: 6
                            visible: cell.favourite || cell.showControls
                            starred: cell.favourite
                            icon.source: cell.favourite ? "qrc:/daub/icons/star-filled.svg"
                                                        : "qrc:/daub/icons/star.svg"
                            onClicked: root.toggleFavourite(cell.index)
                            ToolTip.text: cell.favourite ? qsTr("Remove from favourites") : qsTr("Add to favourites (F)")
                        }
                        CellButton {
                            objectName: "galleryDelete"
                            anchors.top: parent.top
                            anchors.left: parent.left
                            anchors.margins: 6
                            visible: cell.showControls
                            icon.source: "qrc:/daub/icons/trash.svg"
                            onClicked: root.removeRow(cell.index)
                            ToolTip.text: qsTr("Delete (Del)")
                        }
                    }
                    Rectangle { // the selection
                        anchors.fill: tile
                        anchors.margins: -3
                        visible: cell.selected
                        color: "transparent"
                        border.color: Theme.accent
                        border.width: 2
                        radius: Theme.smallRadius + 2
                    }
                }
            }

            // Nothing to show: none made yet, or none matches the filters.
            ColumnLayout {
                objectName: "galleryEmpty"
                anchors.centerIn: parent
                visible: grid.count === 0
                spacing: 8
                Label {
                    objectName: "galleryEmptyTitle"
                    Layout.alignment: Qt.AlignHCenter
                    text: GalleryModel.totalCount === 0 ? qsTr("No images yet") : qsTr("Nothing matches")
                    font.pixelSize: 20
                    color: Theme.mutedText
                }
                Label {
                    Layout.alignment: Qt.AlignHCenter
                    text: GalleryModel.totalCount === 0
                          ? qsTr("Every image Daub makes is kept here, with its prompt and parameters.")
                          : qsTr("Try other words, or show every image.")
                    color: Theme.faintText
                }
                Button {
                    objectName: "galleryClearFilters"
                    Layout.alignment: Qt.AlignHCenter
                    visible: GalleryModel.totalCount > 0
                    text: qsTr("Clear the filters")
                    onClicked: root.clearFilters()
                }
            }

            // A delete can be undone for a few seconds.
            Rectangle {
                id: undoBar
                objectName: "galleryUndoBar"
                anchors.horizontalCenter: parent.horizontalCenter
                anchors.bottom: parent.bottom
                anchors.bottomMargin: 18
                visible: GalleryModel.canUndo
                width: undoRow.implicitWidth + 28
                height: 44
                radius: 22
                color: Theme.dark ? "#ececf1" : "#2a2b30"
                RowLayout {
                    id: undoRow
                    anchors.centerIn: parent
                    spacing: 12
                    Label {
                        objectName: "galleryUndoText"
                        text: GalleryModel.undoText
                        color: Theme.dark ? "#1d1d22" : "#ffffff"
                    }
                    Button {
                        objectName: "galleryUndo"
                        text: qsTr("Undo")
                        flat: true
                        icon.source: "qrc:/daub/icons/undo.svg"
                        icon.width: 16
                        icon.height: 16
                        icon.color: Theme.dark ? Theme.accent : "#b8afff"
                        palette.buttonText: Theme.dark ? Theme.accent : "#b8afff"
                        font.weight: Font.DemiBold
                        onClicked: GalleryModel.undo()
                    }
                }
            }
        }
    }

    GalleryDetail {
        id: detail
        objectName: "galleryDetail"
        onSaveAsRequested: (id) => root.saveAsRequested(id)
        onViewRequested: (source, w, h) => root.viewRequested(source, w, h)
        onNotify: (text) => root.notify(text)
        onLeaveGallery: root.closeRequested()
        onClosed: grid.forceActiveFocus()
        onRowShown: (row) => grid.currentIndex = row
    }
}
