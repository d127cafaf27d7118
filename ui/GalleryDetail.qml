// One gallery image, large, with what it was made from (prompt, model,
// size, seed, date) and its actions: Save, Save as…, Copy, drag out, Use as
// init, Re-run, Use parameters, Upscale, Favourite, Delete, and the full
// size viewer. The arrows (or the side buttons) step through the gallery;
// Esc closes. The actions are ChatController's, called with the entry's id
// (history ids are job ids); the ones that start something in the chat
// (re-run, upscale, use as init, use parameters) go back to the chat.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Daub.App

Popup {
    id: root

    signal saveAsRequested(int jobId)
    signal viewRequested(string source, int width, int height)
    signal notify(string text)
    /// An action that continues in the chat: the gallery should close.
    signal leaveGallery()
    /// The image shown is the gallery's row `row` now.
    signal rowShown(int row)

    /// The gallery row shown.
    property int row: -1
    /// Bumped when the model changes: `entry` is read again.
    property int revision: 0
    readonly property var entry: {
        root.revision
        return root.row >= 0 ? GalleryModel.get(root.row) : ({})
    }
    readonly property int entryId: entry.entryId !== undefined ? entry.entryId : -1

    function show(r) {
        row = r
        revision++
        open()
        rowShown(r)
    }
    function step(delta) {
        let r = row + delta
        if (r >= GalleryModel.rowCount())
            GalleryModel.loadMore()
        if (r < 0 || r >= GalleryModel.rowCount())
            return
        show(r)
    }
    /// The entry moved or went: follow it by its id, or close.
    function follow() {
        const id = entryId
        if (!opened || id < 0)
            return
        const r = GalleryModel.rowOf(id)
        if (r < 0) {
            close()
            return
        }
        row = r
        revision++
    }
    function act(key) {
        const id = entryId
        if (id < 0)
            return
        switch (key) {
        case "save": {
            const path = ChatController.saveResult(id)
            if (path !== "")
                notify(qsTr("Saved to %1").arg(path))
            break
        }
        case "saveAs":
            saveAsRequested(id)
            break
        case "copy":
            if (ChatController.copyResult(id))
                notify(qsTr("Image copied"))
            break
        case "init":
            ChatController.useResultAsInit(id)
            close()
            leaveGallery()
            break
        case "rerun":
            ChatController.rerun(id)
            close()
            leaveGallery()
            break
        case "params":
            if (ChatController.applyParameters(ChatController.parametersOf(id)))
                notify(qsTr("Parameters applied"))
            close()
            leaveGallery()
            break
        case "upscale":
            ChatController.upscaleResult(id)
            close()
            leaveGallery()
            break
        case "favourite":
            GalleryModel.setFavourite(id, !entry.favourite)
            break
        case "delete":
            GalleryModel.remove(id)
            close()
            break
        case "full":
            viewRequested(entry.imageSource, entry.width, entry.height)
            break
        }
    }

    Connections {
        target: GalleryModel
        function onDataChanged() { root.revision++ }
        function onRowsInserted() { root.follow() }
        function onRowsRemoved() { root.follow() }
        function onModelReset() { root.follow() }
    }

    component FactName: Label {
        color: Theme.faintText
        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
    }
    component FactValue: Label {
        Layout.fillWidth: true
        color: Theme.text
        elide: Text.ElideMiddle
        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
    }

    parent: Overlay.overlay
    x: 0
    y: 0
    width: parent ? parent.width : 800
    height: parent ? parent.height : 600
    modal: true
    focus: true
    closePolicy: Popup.CloseOnEscape
    padding: 0
    background: Rectangle { color: Qt.rgba(0.06, 0.06, 0.08, 0.96) }

    contentItem: Item {
        focus: true
        Keys.onLeftPressed: root.step(-1)
        Keys.onRightPressed: root.step(1)
        Keys.onDeletePressed: root.act("delete")
        Keys.onPressed: (event) => {
            if (event.key === Qt.Key_F && event.modifiers === Qt.NoModifier) {
                root.act("favourite")
                event.accepted = true
            }
        }

        RowLayout {
            anchors.fill: parent
            spacing: 0

            Item {
                id: stage
                Layout.fillWidth: true
                Layout.fillHeight: true

                Image {
                    id: picture
                    objectName: "galleryDetailImage"
                    anchors.fill: parent
                    anchors.margins: 56
                    source: root.opened && root.entry.imageSource ? root.entry.imageSource : ""
                    sourceSize: Qt.size(2048, 2048)
                    fillMode: Image.PreserveAspectFit
                    asynchronous: true
                    mipmap: true

                    // Drag the image out to other programs.
                    Drag.dragType: Drag.Automatic
                    Drag.supportedActions: Qt.CopyAction
                    Drag.mimeData: ({ "text/uri-list": dragUrl })
                    property string dragUrl: ""

                    Item { id: dragDummy }
                    MouseArea {
                        objectName: "galleryDragArea"
                        // The painted image, not the margins around it.
                        x: (parent.width - parent.paintedWidth) / 2
                        y: (parent.height - parent.paintedHeight) / 2
                        width: parent.paintedWidth
                        height: parent.paintedHeight
                        drag.target: dragDummy
                        cursorShape: Qt.OpenHandCursor
                        onPressed: {
                            picture.dragUrl = ChatController.exportForDrag(root.entryId)
                            const aspect = Math.max(0.1, parent.paintedWidth / Math.max(1, parent.paintedHeight))
                            picture.grabToImage(function(r) { picture.Drag.imageSource = r.url },
                                                Qt.size(128, 128 / aspect))
                        }
                        onReleased: picture.Drag.active = false
                        drag.onActiveChanged: if (drag.active && picture.dragUrl !== "") picture.Drag.active = true
                        onDoubleClicked: root.act("full")
                    }
                }
                RoundButton {
                    objectName: "galleryPrevious"
                    anchors.left: parent.left
                    anchors.leftMargin: 10
                    anchors.verticalCenter: parent.verticalCenter
                    visible: root.row > 0
                    text: "\u2039"
                    font.pixelSize: 22
                    onClicked: root.step(-1)
                }
                RoundButton {
                    objectName: "galleryNext"
                    anchors.right: parent.right
                    anchors.rightMargin: 10
                    anchors.verticalCenter: parent.verticalCenter
                    visible: root.row < GalleryModel.count - 1
                    text: "\u203a"
                    font.pixelSize: 22
                    onClicked: root.step(1)
                }
            }

            Rectangle {
                Layout.fillHeight: true
                Layout.preferredWidth: 340
                color: Theme.panel

                ScrollView {
                    anchors.fill: parent
                    contentWidth: availableWidth
                    clip: true

                    ColumnLayout {
                        width: parent.width
                        spacing: 10

                        RowLayout {
                            Layout.fillWidth: true
                            Layout.leftMargin: 16
                            Layout.rightMargin: 6
                            Layout.topMargin: 8
                            Label {
                                Layout.fillWidth: true
                                text: qsTr("%1 of %2").arg(root.row + 1).arg(GalleryModel.count)
                                color: Theme.mutedText
                                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                            }
                            ToolButton {
                                objectName: "galleryDetailClose"
                                icon.source: "qrc:/daub/icons/close.svg"
                                icon.color: Theme.mutedText
                                onClicked: root.close()
                                ToolTip.visible: hovered
                                ToolTip.text: qsTr("Close (Esc)")
                            }
                        }
                        TextEdit {
                            objectName: "galleryDetailPrompt"
                            Layout.fillWidth: true
                            Layout.leftMargin: 16
                            Layout.rightMargin: 16
                            text: root.entry.prompt !== undefined ? root.entry.prompt : ""
                            readOnly: true
                            selectByMouse: true
                            wrapMode: TextEdit.Wrap
                            color: Theme.text
                            selectionColor: Theme.accent
                            selectedTextColor: Theme.accentText
                            font.pixelSize: 15
                        }
                        Label {
                            Layout.fillWidth: true
                            Layout.leftMargin: 16
                            Layout.rightMargin: 16
                            visible: text !== ""
                            text: root.entry.negativePrompt ? qsTr("Not: %1").arg(root.entry.negativePrompt) : ""
                            wrapMode: Text.Wrap
                            color: Theme.mutedText
                            font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                        }
                        GridLayout {
                            Layout.fillWidth: true
                            Layout.leftMargin: 16
                            Layout.rightMargin: 16
                            columns: 2
                            columnSpacing: 12
                            rowSpacing: 4
                            FactName { text: qsTr("Model") }
                            FactValue { text: root.entry.modelName ? root.entry.modelName : "\u2014" }
                            FactName { text: qsTr("Size") }
                            FactValue { text: (root.entry.width || 0) + "\u00d7" + (root.entry.height || 0) }
                            FactName { text: qsTr("Seed") }
                            FactValue { text: root.entry.seed !== undefined ? String(root.entry.seed) : "" }
                            FactName { text: qsTr("Made") }
                            FactValue { text: root.entry.createdText || "" }
                        }
                        Rectangle { Layout.fillWidth: true; Layout.preferredHeight: 1; color: Theme.border }

                        // The actions, one per line.
                        ColumnLayout {
                            Layout.fillWidth: true
                            Layout.leftMargin: 8
                            Layout.rightMargin: 8
                            Layout.bottomMargin: 12
                            spacing: 0
                            Repeater {
                                model: [
                                    { key: "favourite", label: "", icon: "", tip: qsTr("F") },
                                    { key: "save", label: qsTr("Save"), icon: "save", tip: qsTr("Save as PNG in the save folder") },
                                    { key: "saveAs", label: qsTr("Save as\u2026"), icon: "save", tip: qsTr("Choose where to save the PNG") },
                                    { key: "copy", label: qsTr("Copy"), icon: "copy", tip: qsTr("Copy the image") },
                                    { key: "init", label: qsTr("Use as init"), icon: "use-as-init", tip: qsTr("Start the next image from this one") },
                                    { key: "rerun", label: qsTr("Re-run"), icon: "rerun", tip: qsTr("Run it again with the same seed") },
                                    { key: "params", label: qsTr("Use its parameters"), icon: "sliders", tip: qsTr("Put its prompt and settings into the composer and the options") },
                                    { key: "upscale", label: qsTr("Upscale"), icon: "upscale", tip: qsTr("Upscale it (the factor is set under Upscale in the options)") },
                                    { key: "full", label: qsTr("Full size"), icon: "image", tip: qsTr("Show it at 100 % (double-click the image)") },
                                    { key: "delete", label: qsTr("Delete"), icon: "trash", tip: qsTr("Delete it from the history (Del); it can be undone") }
                                ]
                                // A fixed list (the delegates stay); the favourite's
                                // label and icon follow the entry.
                                delegate: ItemDelegate {
                                    required property var modelData
                                    readonly property bool isFavourite: modelData.key === "favourite"
                                    objectName: "galleryAction_" + modelData.key
                                    Layout.fillWidth: true
                                    text: !isFavourite ? modelData.label
                                        : root.entry.favourite ? qsTr("Favourite") : qsTr("Add to favourites")
                                    icon.source: "qrc:/daub/icons/"
                                                 + (!isFavourite ? modelData.icon : root.entry.favourite ? "star-filled" : "star")
                                                 + ".svg"
                                    icon.color: modelData.key === "delete" ? Theme.danger
                                              : modelData.key === "favourite" && root.entry.favourite ? "#e0a800"
                                              : Theme.mutedText
                                    icon.width: 16
                                    icon.height: 16
                                    palette.text: modelData.key === "delete" ? Theme.danger : Theme.text
                                    palette.windowText: modelData.key === "delete" ? Theme.danger : Theme.text
                                    ToolTip.visible: hovered
                                    ToolTip.delay: 600
                                    ToolTip.text: modelData.tip
                                    onClicked: root.act(modelData.key)
                                }
                            }
                            Label {
                                Layout.fillWidth: true
                                Layout.leftMargin: 8
                                Layout.topMargin: 6
                                text: qsTr("Drag the image to another program to copy it there.")
                                wrapMode: Text.Wrap
                                color: Theme.faintText
                                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                            }
                        }
                    }
                }
            }
        }
    }
}
